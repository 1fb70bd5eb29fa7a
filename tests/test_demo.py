"""`s2vt demo` end to end, as a newcomer runs it (about 4 minutes on 2 CPU cores)."""
import json

from .conftest import run_cli


def test_demo_meets_its_targets(tmp_path):
    out = tmp_path / "demo"
    proc = run_cli("-m", "s2vt.cli", "demo", "--out", str(out), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads((out / "metrics.json").read_text())
    assert m["CIDEr"] >= 1.0 and m["hit@1"] >= 0.9
    a = m["audio_word_accuracy"]
    assert a["with_vggish"] >= a["without_vggish"] + 0.3  # sound words need the audio modality
    for p in ("videos", "manifest.jsonl", "features/meta.json", "run/best.pt", "run/last.pt", "run/metrics.csv",
              "run/curves.png", "report.md"):
        assert (out / p).exists(), p
    report = (out / "report.md").read_text()
    assert "CIDEr" in report and "caption.py" in report and "random" in report
    assert set(m) >= {"BLEU-4", "CIDEr", "METEOR", "ROUGE-L", "hit@1", "gap", "tag_f1", "seconds"}
