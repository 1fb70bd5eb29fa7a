"""`s2vt evaluate --html`'s page: worst CIDEr-D first, frames of the videos that exist, text escaped."""
import re

from s2vt.metrics import cider, cider_per_video
from s2vt.report import write_report

from .conftest import make_video


def test_report_order_frames_and_escaping(tmp_path):
    video = make_video(tmp_path / "a.mp4", seconds=1.0, size="96x64", audio=None)
    entries = [{"video_id": "good", "abspath": str(video), "captions": ["a red square moves left"], "tags": ["left"]},
               {"video_id": "bad", "abspath": str(tmp_path / "gone.mp4"), "captions": ["a <b>blue</b> square"]},
               {"video_id": "norefs", "abspath": None}]
    preds = {"good": {"caption": "a red square moves left", "tags": [{"tag": "left", "p": 0.9}]},
             "bad": {"caption": "a dog", "tags": []}, "norefs": {"caption": "x", "tags": []}}
    refs = {e["video_id"]: e["captions"] for e in entries if e.get("captions")}
    scores = cider_per_video(refs, {v: preds[v]["caption"] for v in refs})
    assert scores["bad"] < scores["good"]
    assert abs(sum(scores.values()) / len(scores) - cider(refs, {v: preds[v]["caption"] for v in refs})) < 1e-9
    out = tmp_path / "report.html"
    write_report(out, entries, preds, scores, {"split": "test", "videos": 3, "CIDEr": 1.5})
    page = out.read_text()
    assert re.findall(r"<tr><td>\d+</td><td>(\w+)</td>", page) == ["bad", "good", "norefs"]
    assert page.count('<img src="data:image/jpeg;base64,') == 6  # the one video that exists: its strip
    assert "video file not found" in page and "a &lt;b&gt;blue&lt;/b&gt; square" in page
    assert 'class="gold">left 0.90' in page
