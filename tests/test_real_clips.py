"""Optional: the real MSVD / MSR-VTT clips in $S2VT_SAMPLE_DATA, the project's shared data (skipped when absent)."""
import json

from s2vt.store import FeatureStore

from .conftest import run_cli


def test_real_clips_full_settings(sample_data, tmp_path):
    clips = sample_data / "clips"
    store = tmp_path / "store"
    proc = run_cli("-m", "extract", str(clips), "--out", str(store), "--weights", "random")
    assert proc.returncode == 0, proc.stderr[-2000:]
    fs = FeatureStore(store)
    ids = [p.stem for p in clips.iterdir() if p.suffix in (".avi", ".mp4")]
    assert len(ids) == 6
    for vid in ids:
        assert fs.read("resnet152", vid).shape == (40, 2048)
        assert fs.read("c3d", vid).shape == (8, 4096)
        rows = fs.read("vggish", vid).shape
        assert rows == ((15, 128) if vid == "video9938" else (0, 128))  # MSVD clips have no audio
    assert json.loads((store / "meta.json").read_text())["backbones"]["resnet152"] == "random(seed=0)"
    again = run_cli("-m", "extract", str(clips), "--out", str(store), "--weights", "random")
    assert again.returncode == 0 and "6 already done, 0 to extract" in again.stderr
