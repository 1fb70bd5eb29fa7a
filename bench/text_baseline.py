"""Text-only LIC2022 tagging: `train.py` defaults (text branch, no video) vs TF-IDF character
1-3-grams + a linear classifier (scikit-learn's LinearSVC and LogisticRegression), same split.

The manifest is a LIC2022 import with a held-out test split, e.g.
  s2vt import lic2022 ../shared/data/kuairec/train.json --val 560 --test 560 --out work/manifest.jsonl
The baselines train on train + val (they tune nothing); the model trains on train, selects on val.
Both are scored on test by s2vt.levels.level_scores (level-1 / level-2 accuracy, topic-tag F1).
Needs scikit-learn (a benchmark dependency, not the package's): pip install -e ".[bench]"
Run: python bench/text_baseline.py --manifest work/manifest.jsonl --out work/text_run [--skip-model]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from s2vt.manifest import read_manifest  # noqa: E402
from s2vt.formats import LEVEL1, LEVEL2, SEMANTIC  # noqa: E402
from s2vt.levels import level_scores  # noqa: E402
from s2vt.text import clean, fields  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MIN_TAG_COUNT = 3  # as train.py's --min-tag-count default


def document(entry: dict) -> str:
    """Title, ASR and OCR as one string (a newline keeps n-grams from spanning two fields)."""
    return "\n".join(clean(f) for f in fields(entry))


def first(tags: list[str], prefix: str) -> str | None:
    return next((t for t in tags if t.startswith(prefix)), None)


def baseline(train: list[dict], test: list[dict], make) -> tuple[dict, float]:
    """(test scores, seconds) of TF-IDF char 1-3-grams + `make()` classifiers: one for level 1,
    one for level 2 (its L1/L2 names), one-vs-rest for topic tags seen on MIN_TAG_COUNT videos."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.preprocessing import MultiLabelBinarizer

    t0 = time.time()
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    x_train, x_test = vec.fit_transform([document(e) for e in train]), vec.transform([document(e) for e in test])
    pred = [[] for _ in test]
    for prefix in (LEVEL1, LEVEL2):
        rows = [i for i, e in enumerate(train) if first(e["tags"], prefix)]
        clf = make().fit(x_train[rows], [first(train[i]["tags"], prefix) for i in rows])
        for p, name in zip(pred, clf.predict(x_test)):
            p.append(name)
    counts: dict[str, int] = {}
    for e in train:
        for t in e["tags"]:
            counts[t] = counts.get(t, 0) + t.startswith(SEMANTIC)
    kept = sorted(t for t, c in counts.items() if c >= MIN_TAG_COUNT)
    mlb = MultiLabelBinarizer(classes=kept)
    y = mlb.fit_transform([[t for t in e["tags"] if t in counts and counts[t] >= MIN_TAG_COUNT] for e in train])
    tags = mlb.inverse_transform(OneVsRestClassifier(make()).fit(x_train, y).predict(x_test))
    for p, t in zip(pred, tags):
        p += list(t)
    return level_scores(pred, [e["tags"] for e in test]), time.time() - t0


def model(manifest: Path, out: Path) -> tuple[dict, float]:
    """(test scores, seconds) of `train.py` with its defaults, then `s2vt evaluate --split test`."""
    t0 = time.time()
    run = lambda *a: subprocess.run([sys.executable, *a], check=True, cwd=REPO)  # noqa: E731
    run("train.py", "--manifest", str(manifest), "--out", str(out), "--overwrite")
    run("-m", "s2vt.cli", "evaluate", "--checkpoint", str(out / "best.pt"), "--manifest", str(manifest),
        "--split", "test", "--json")
    return json.loads((out / "metrics_test.json").read_text()), time.time() - t0


def require_sklearn() -> None:
    """The baselines' one dependency the package's install leaves out: without it, one line naming
    what to install and exit 2 (a user's missing install, not a bug: no traceback)."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print('error: bench/text_baseline.py needs scikit-learn: pip install -e ".[bench]" (or pip install '
              'scikit-learn)', file=sys.stderr)
        sys.exit(2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path, help="run folder for train.py")
    ap.add_argument("--skip-model", action="store_true", help="only the scikit-learn baselines")
    args = ap.parse_args()
    require_sklearn()
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    entries = read_manifest(args.manifest)
    train = [e for e in entries if e.get("split") in ("train", "val") and e.get("tags")]
    test = [e for e in entries if e.get("split") == "test" and e.get("tags")]
    if not test:
        sys.exit(f"{args.manifest}: no labelled test videos (import with --test N)")
    rows = {"TF-IDF char 1-3 + LinearSVC": baseline(train, test, lambda: LinearSVC()),
            "TF-IDF char 1-3 + LogisticRegression": baseline(train, test, lambda: LogisticRegression(max_iter=2000))}
    if not args.skip_model:
        rows["train.py defaults (text only)"] = model(args.manifest, args.out)
    print(f"{len(train)} train+val / {len(test)} test videos")
    print("| system | level-1 acc | level-2 acc | tag F1 | seconds |\n| --- | --- | --- | --- | --- |")
    for name, (s, secs) in rows.items():
        print(f"| {name} | {s['level1_acc']:.3f} | {s['level2_acc']:.3f} | {s['tag_f1']:.3f} | {secs:.0f} |")


if __name__ == "__main__":
    main()
