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


def test_a_tag_only_report_says_its_order_and_a_manifest_without_paths_says_so_once(tmp_path):
    """A tag-only model's page said 'worst CIDEr-D first' with no CIDEr-D and no such order; a manifest with
    no `path` at all (MLDS's, YouTube-8M's) said 'video file not found' in every row."""
    entries = [{"video_id": v, "abspath": None, "tags": gold} for v, gold in
               (("hit", ["cat"]), ("miss", ["dog"]), ("half", ["cat", "dog"]), ("untagged", []))]
    preds = {"hit": {"caption": "", "tags": [{"tag": "cat", "p": 0.9}]},
             "miss": {"caption": "", "tags": [{"tag": "cat", "p": 0.8}], "top_tags": [
                 {"tag": "cat", "p": 0.8}, {"tag": "bird", "p": 0.1}, {"tag": "dog", "p": 0.05}]},
             "half": {"caption": "", "tags": [{"tag": "dog", "p": 0.7}, {"tag": "bird", "p": 0.6}]},
             "untagged": {"caption": "", "tags": [{"tag": "cat", "p": 0.5}]}}
    out = tmp_path / "report.html"
    write_report(out, entries, preds, {}, {"split": "test", "videos": 4, "GAP@20": 0.5})
    page = out.read_text()
    assert "CIDEr" not in page and "video file not found" not in page
    assert "4 videos, worst tag AP first (each video's average precision over its ranked tags)" in page
    # miss: dog third of the top tags, AP 1/3; half: dog first, cat never, AP 1/2
    assert re.findall(r"<tr><td>\d+</td><td>(\w+)</td><td>([\d.]*)</td>", page) == [
        ("miss", "0.333"), ("half", "0.500"), ("hit", "1.000"), ("untagged", "")]
    assert page.count("no frames: the manifest has no video paths") == 1 and "<th>frames</th>" not in page
    write_report(out, entries, {v: {"caption": "", "tags": []} for v in preds}, {},  # (no tags either)
                 {"split": "test", "videos": 4})
    page = out.read_text()
    assert "4 videos, in the manifest's order" in page and "CIDEr" not in page
    assert re.findall(r"<tr><td>\d+</td><td>(\w+)</td>", page) == ["hit", "miss", "half", "untagged"]


def test_a_text_models_report_shows_each_videos_text_escaped_and_cut(tmp_path):
    """A text-only model's row showed no caption, no reference and nothing of the text it read (trial 83)."""
    entries = [{"video_id": "a", "abspath": None, "tags": ["level1:x"],
                "text": {"title": "<script>alert(1)</script> 好看", "asr": "", "ocr": "z" * 500}},
               {"video_id": "b", "abspath": None, "tags": ["level1:y"]}]
    preds = {v: {"caption": "", "tags": [{"tag": "level1:x", "p": 0.9}]} for v in ("a", "b")}
    out = tmp_path / "report.html"
    write_report(out, entries, preds, {}, {"split": "test", "videos": 2})
    page = out.read_text(encoding="utf-8")
    assert "<script>" not in page and "<b>title</b>&lt;script&gt;alert(1)&lt;/script&gt; 好看" in page
    assert "<b>asr</b>" not in page and f"<b>ocr</b>{'z' * 300}…</div>" in page
    assert "<th>prediction / references / text</th>" in page and page.count('class="text"') == 2
