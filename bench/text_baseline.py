"""Text-only LIC2022 tagging: `train.py` defaults (text branch, no video) vs TF-IDF character
1-3-grams + a linear classifier (scikit-learn's LinearSVC and LogisticRegression), same split.

The manifest is a LIC2022 import with a held-out test split, e.g.
  s2vt import lic2022 ../shared/data/kuairec/train.json --val 560 --test 560 --out work/manifest.jsonl
The baselines train on train + val (they tune nothing); the model trains on train, selects on val.
Both are scored on test by s2vt.levels.level_scores (level-1 / level-2 accuracy, topic-tag F1).
Needs scikit-learn (a benchmark dependency, not the package's): pip install -e ".[bench]"
Run: python bench/text_baseline.py --manifest work/manifest.jsonl --out work/text_run [--overwrite]
     python bench/text_baseline.py --manifest work/manifest.jsonl --skip-model   (the baselines alone)
Paths are taken from the current folder. Checked before the (slow) baselines start: the manifest
(LIC2022 tags and levels, text, a labelled test split) and --out (a folder that holds a run is
refused unless --overwrite). A failing train.py or evaluate is one line with its exit code, and
this script exits with it, after the baselines' table.
"""
from __future__ import annotations

import collections
import json
import subprocess
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import bench_main, bench_parser  # noqa: E402

from s2vt.manifest import read_manifest, split_of  # noqa: E402
from s2vt.engine import RUN_FILES  # noqa: E402  (what train.py refuses to replace without --overwrite)
from s2vt.errors import UserError, extra_install_hint  # noqa: E402
from s2vt.formats import LEVEL1, LEVEL2, SEMANTIC  # noqa: E402
from s2vt.levels import level_scores  # noqa: E402
from s2vt.text import clean, fields, has_text  # noqa: E402

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




class StepFailed(Exception):
    """train.py or evaluate exited non-zero (it printed why): `code` is its exit code."""

    def __init__(self, what: str, code: int) -> None:
        super().__init__(f"{what} failed (exit {code}; its message is above)")
        self.code = code


def model(manifest: Path, out: Path, overwrite: bool) -> tuple[dict, float]:
    """(test scores, seconds) of `train.py` with its defaults, then `s2vt evaluate --split test`.
    `manifest` and `out` are absolute: the children run in the repository (cwd=REPO, so that its
    s2vt is the one imported), where a relative path would name another file."""
    t0 = time.time()

    def run(what: str, *a: str) -> None:
        code = subprocess.run([sys.executable, *a], cwd=REPO).returncode
        if code:
            raise StepFailed(what, code)

    run("train.py", "train.py", "--manifest", str(manifest), "--out", str(out), *(["--overwrite"] * overwrite))
    run("s2vt evaluate", "-m", "s2vt.cli", "evaluate", "--checkpoint", str(out / "best.pt"), "--manifest",
        str(manifest), "--split", "test", "--json")
    return json.loads((out / "metrics_test.json").read_text()), time.time() - t0


def check_out(out: Path, overwrite: bool) -> None:
    """Refuse, before the baselines' minutes, an --out train.py would refuse or whose run it would replace."""
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: not a folder (--out is the model's run folder)")
    held = [name for name in RUN_FILES if (out / name).exists()]
    if held and not overwrite:
        raise UserError(f"{out} already holds a training run ({', '.join(held)}): pass --overwrite to replace it, "
                        "or another --out")


def split_for_baselines(manifest: Path, entries: list[dict]) -> tuple[list[dict], list[dict]]:
    """(train + val, test) entries with tags; UserError naming what the manifest lacks for this
    benchmark (tags, text, levels, a test split), so that nothing fails after the baselines ran."""
    tagged = [e for e in entries if e.get("tags")]
    if not tagged:  # (a captions-only manifest: MLDS, MSVD)
        raise UserError(f"{manifest}: no tags or levels on any video; this benchmark scores LIC2022 tagging "
                        "(level1:, level2:, tag:; s2vt import lic2022)")
    train = [e for e in tagged if split_of(e) in ("train", "val")]
    test = [e for e in tagged if split_of(e) == "test"]
    if not has_text(train):
        raise UserError(f"{manifest}: no text (title, ASR, OCR) on any train/val video: nothing for a text "
                        "baseline to read")
    if not test:
        raise UserError(f"{manifest}: no labelled test videos (import with --test N)")
    for prefix in (LEVEL1, LEVEL2):  # a classifier needs two classes to tell apart
        found = {first(e["tags"], prefix) for e in train} - {None}
        if len(found) < 2:
            raise UserError(f"{manifest}: {len(found)} distinct {prefix[:-1]} value(s) among the train/val videos; "
                            "the baselines need at least 2")
    topics = collections.Counter(t for e in train for t in set(e["tags"]) if t.startswith(SEMANTIC))
    kept = sum(c >= MIN_TAG_COUNT for c in topics.values())
    if kept < 2:  # (scikit-learn's one-vs-rest needs two: with one its predictions lose a dimension)
        raise UserError(f"{manifest}: {kept} topic tag(s) ({SEMANTIC}) on {MIN_TAG_COUNT} or more train/val videos; "
                        "the baselines need at least 2")
    return train, test


def require_sklearn() -> None:
    """The baselines' one dependency the package's install leaves out: without it, one line naming
    what to install and exit 2 (a user's missing install, not a bug: no traceback)."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        # (the checkout's absolute path: `".[bench]"` works only from its root)
        print(f"error: bench/text_baseline.py needs scikit-learn: {extra_install_hint('bench')} (or pip install "
              "scikit-learn)", file=sys.stderr)
        sys.exit(2)


def main() -> None:
    ap = bench_parser(__doc__)
    ap.add_argument("--manifest", required=True, type=Path)
    ap.add_argument("--out", type=Path, help="run folder for train.py (required unless --skip-model)")
    ap.add_argument("--skip-model", action="store_true", help="only the scikit-learn baselines")
    ap.add_argument("--overwrite", action="store_true",
                    help="replace a run already in --out (train.py --overwrite); without it such an --out is refused")
    args = ap.parse_args()
    if args.out is None and not args.skip_model:  # (required with --skip-model too, where it was never used; trial 109)
        ap.error("--out is required (the run folder for train.py), unless --skip-model")
    require_sklearn()
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    manifest = args.manifest.absolute()
    try:
        train, test = split_for_baselines(args.manifest, read_manifest(manifest))
        if not args.skip_model:
            check_out(args.out, args.overwrite)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    rows = {"TF-IDF char 1-3 + LinearSVC": baseline(train, test, lambda: LinearSVC()),
            "TF-IDF char 1-3 + LogisticRegression": baseline(train, test, lambda: LogisticRegression(max_iter=2000))}
    failed = None
    if not args.skip_model:
        try:
            rows["train.py defaults (text only)"] = model(manifest, args.out.absolute(), args.overwrite)
        except StepFailed as e:
            failed = e  # (the baselines' rows are still printed: minutes of work)
    print(f"{len(train)} train+val / {len(test)} test videos")
    print("| system | level-1 acc | level-2 acc | tag F1 | seconds |\n| --- | --- | --- | --- | --- |")
    for name, (s, secs) in rows.items():
        print(f"| {name} | {s['level1_acc']:.3f} | {s['level2_acc']:.3f} | {s['tag_f1']:.3f} | {secs:.0f} |")
    if failed is not None:
        print(f"error: {failed}; the table above has the baselines only", file=sys.stderr)
        sys.exit(failed.code)


if __name__ == "__main__":
    bench_main(main)
