"""`s2vt serve` through its ASGI app (a tiny trained checkpoint, generated videos), and its page in
a headless Chromium when one is installed."""
import asyncio
import contextlib
import json
import math
import os
import shutil
import socket
import threading
import time
import warnings

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")
httpx = pytest.importorskip("httpx")

from extract.ffmpeg import MediaError  # noqa: E402
from s2vt.captioner import RANDOM_BACKBONES, Captioner  # noqa: E402
from s2vt.serve import create_app  # noqa: E402

from .conftest import REPO  # noqa: E402
from .test_caption_cli import trained  # noqa: E402,F401  (the module's tiny trained checkpoint)


@pytest.fixture(scope="module")
def captioner(trained):  # noqa: F811
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = Captioner(str(trained / "run" / "best.pt"), beam=2, tags=2)
        _ = c.extractor.backbones
    return c


def call(app, *requests):
    """Send requests (method, url, kwargs) at once to the app; their responses in order."""
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=120) as client:
            return await asyncio.gather(*(client.request(m, u, **kw) for m, u, kw in requests))
    return asyncio.run(go())


def video_form(path, name=None):
    return {"files": {"video": (name or path.name, path.read_bytes(), "video/mp4")}}


def test_caption_model_health_page(captioner, trained, tmp_path):  # noqa: F811
    app = create_app(captioner, upload_dir=str(tmp_path), checkpoint_name="best.pt")
    video = trained / "videos" / "v00.mp4"
    r, model, health, page = call(app, ("POST", "/api/caption?thumbs=3", video_form(video)), ("GET", "/api/model", {}),
                                  ("GET", "/healthz", {}), ("GET", "/", {}))
    assert r.status_code == 200, r.text
    body = r.json()
    expected = captioner.caption(str(video))  # caption.py's path: the same answer
    assert body["video"] == "v00.mp4" and body["caption"] == expected["caption"] and body["tags"] == expected["tags"]
    # caption.py's object, "notes" whether or not there are any; the model's random backbones said first (caption.py
    # says it once on stderr: a client reads no server log)
    assert expected["notes"] == [] and captioner.random_note
    assert body["notes"] == [f"the model's {RANDOM_BACKBONES}"]
    assert len(body["frame_times"]) == 4 and body["frame_times"] == sorted(body["frame_times"])
    assert 0 <= body["frame_times"][0] < body["frame_times"][-1] <= 1.0
    assert len(body["thumbnails"]) == 3 and body["thumbnails"][0]["src"].startswith("data:image/jpeg;base64,")
    assert list(tmp_path.iterdir()) == []  # the upload was removed
    m = model.json()
    assert m["modalities"] == ["c3d", "resnet152", "vggish"] and m["vocab_size"] == len(captioner.vocab)
    assert sorted(m["tags"]) == ["left", "right"] and isinstance(m["metrics"], dict) and m["metrics"]
    assert m["decoding"]["beam"] == captioner.beam and "consensus" in m["decoding"]  # (the settings that act)
    assert m["note"] == body["notes"][0]
    assert health.json()["status"] == "ok"
    assert page.status_code == 200 and "api/caption" in page.text


def test_not_a_video_is_422_with_caption_py_reason(captioner, broken, tmp_path):
    app = create_app(captioner, upload_dir=str(tmp_path))
    with pytest.raises(MediaError) as e:
        captioner.caption(str(broken["text"]))
    r, = call(app, ("POST", "/api/caption", video_form(broken["text"], "notes.mp4")))
    assert r.status_code == 422
    assert r.json()["error"] == str(e.value).replace(str(broken["text"]), "notes.mp4")
    r, = call(app, ("POST", "/api/caption", {"files": {"other": (None, b"x")}}))  # (a form without a video)
    assert r.status_code == 422 and "'video'" in r.json()["error"]
    assert list(tmp_path.iterdir()) == []


def test_video_over_max_seconds_is_422_before_decoding(captioner, trained, tmp_path, monkeypatch):  # noqa: F811
    """A small upload can hold hours of audio: its probed duration is refused before any decoding."""
    import extract.media
    from extract.video import probe

    def undecoded(*args, **kwargs):
        raise AssertionError("a video over the limit was decoded")
    video = trained / "videos" / "v00.mp4"
    seconds = probe(video).duration
    assert seconds > 0.5
    monkeypatch.setattr(extract.media, "audio_examples", undecoded)
    monkeypatch.setattr(extract.media, "decode_frames", undecoded)
    app = create_app(captioner, upload_dir=str(tmp_path), max_seconds=0.5)
    r, model = call(app, ("POST", "/api/caption", video_form(video, "long.mp4")), ("GET", "/api/model", {}))
    assert r.status_code == 422
    assert r.json() == {"error": f"long.mp4: video lasts {seconds:,.1f} s, over the limit of 0.5 s"}
    assert model.json()["max_video_seconds"] == 0.5
    assert list(tmp_path.iterdir()) == []


def test_oversized_upload_is_413(captioner, trained, tmp_path):  # noqa: F811
    app = create_app(captioner, max_bytes=2000, upload_dir=str(tmp_path))
    video = trained / "videos" / "v00.mp4"
    assert video.stat().st_size > 4000

    boundary = "s2vt-test-boundary-7f3a9c"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="video"; filename="v.mp4"\r\n'
            'Content-Type: video/mp4\r\n\r\n').encode() + video.read_bytes() + f"\r\n--{boundary}--\r\n".encode()

    async def chunks():  # no Content-Length: the limit is enforced while the body streams in
        for i in range(0, len(body), 500):
            yield body[i:i + 500]

    multipart = {"content-type": f"multipart/form-data; boundary={boundary}"}
    truncated = body[:1500] + f"\r\n--{boundary}--\r\n".encode()
    declared, streamed, fits = call(app, ("POST", "/api/caption", video_form(video)),
                                    ("POST", "/api/caption", {"content": chunks(), "headers": multipart}),
                                    ("POST", "/api/caption", {"content": truncated, "headers": multipart}))
    size = f"{video.stat().st_size:,}"  # (the limit is the file's: its own size said, not the body's)
    assert declared.status_code == 413
    assert declared.json() == {"error": f"v00.mp4: video of {size} bytes is over the limit of 2,000 bytes"}
    assert streamed.status_code == 413
    assert streamed.json() == {"error": f"v.mp4: video of {size} bytes is over the limit of 2,000 bytes"}
    assert fits.status_code == 422  # under the limit: read, and refused as a (truncated) video
    assert list(tmp_path.iterdir()) == []


def test_the_limit_is_on_the_file_not_its_multipart_body(tmp_path):
    """`--max-upload-mb 1` refused a 1,048,500-byte file: the limit counted the multipart body around it.
    A file of exactly the limit is read (its body is larger); one byte more is 413 giving the file's size;
    a body far over the limit is still cut off early, and a declared one refused before it is read."""
    from s2vt.serve import FORM_ALLOWANCE

    limit = 3000
    app = create_app(FakeCaptioner(), max_bytes=limit, upload_dir=str(tmp_path))
    exact, over = call(app, ("POST", "/api/caption", {"files": {"video": ("v.mp4", b"x" * limit, "video/mp4")}}),
                       ("POST", "/api/caption", {"files": {"video": ("w.mp4", b"x" * (limit + 1), "video/mp4")}}))
    assert exact.status_code == 200 and exact.json()["caption"] == "a test", exact.text
    assert over.status_code == 413
    assert over.json() == {"error": "w.mp4: video of 3,001 bytes is over the limit of 3,000 bytes"}

    boundary = "s2vt-far"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="video"; filename="v.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n").encode()
    read = []

    async def endless():  # no Content-Length: cut off while it streams, long before its end
        yield head
        for i in range(1000):
            read.append(i)
            yield b"x" * 1000
    multipart = {"content-type": f"multipart/form-data; boundary={boundary}"}
    far, declared = call(app, ("POST", "/api/caption", {"content": endless(), "headers": multipart}),
                         ("POST", "/api/caption", {"content": head + b"x" * 100_000, "headers": multipart}))
    assert far.status_code == 413
    assert far.json() == {"error": f"upload is over the limit of 3,000 bytes for the video "
                                   f"(plus {FORM_ALLOWANCE:,} for the multipart form around it)"}
    assert len(read) <= (limit + FORM_ALLOWANCE) // 1000 + 2  # (a chunk or two past the allowance, not 1 MB)
    assert declared.status_code == 413
    assert declared.json() == {"error": f"upload of {len(head) + 100_000:,} bytes is over the limit of 3,000 bytes "
                                        f"for the video (plus {FORM_ALLOWANCE:,} for the multipart form around it)"}
    assert list(tmp_path.iterdir()) == []


def test_no_openapi_schema_is_served(tmp_path):
    """/docs was 404 while /openapi.json answered a schema nothing documents."""
    schema, docs = call(create_app(FakeCaptioner(), upload_dir=str(tmp_path)),
                        ("GET", "/openapi.json", {}), ("GET", "/docs", {}))
    assert schema.status_code == docs.status_code == 404 and schema.json() == {"error": "Not Found"}


class Gated:
    """A captioner whose videos wait for a gate: requests pile up as behind a slow model."""

    def __init__(self, inner):
        self.inner, self.gate = inner, threading.Event()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def caption(self, *args, **kwargs):
        self.gate.wait(60)
        return self.inner.caption(*args, **kwargs)


def test_full_queue_is_503_with_retry_after(captioner, trained, tmp_path):  # noqa: F811
    took = []  # each caption's own time (the gate's wait included: to the server, captioning)

    class Timed(Gated):
        def caption(self, *args, **kwargs):
            t0 = time.time()
            try:
                return super().caption(*args, **kwargs)
            finally:
                took.append(time.time() - t0)

    gated = Timed(captioner)
    app = create_app(gated, workers=1, queue=1, upload_dir=str(tmp_path))
    form = video_form(trained / "videos" / "v01.mp4")

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=120) as client:
            first = [asyncio.create_task(client.post("/api/caption", **form)) for _ in range(2)]
            await asyncio.sleep(0.5)  # both admitted: one captioning, one waiting
            busy = await client.post("/api/caption", **form)
            health = await client.get("/healthz")
            gated.gate.set()
            return busy, health, await asyncio.gather(*first)

    busy, health, done = asyncio.run(go())
    assert busy.status_code == 503 and int(busy.headers["Retry-After"]) >= 1
    retry = []

    async def again():  # a caption that waited 1.5 s for the worker, then took no time
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=120) as client:
            gated.gate.clear()
            first = [asyncio.create_task(client.post("/api/caption", **form)) for _ in range(2)]
            await asyncio.sleep(1.5)
            gated.gate.set()
            await asyncio.gather(*first)
            gated.gate.clear()
            first = [asyncio.create_task(client.post("/api/caption", **form)) for _ in range(2)]
            await asyncio.sleep(0.5)
            retry.append(await client.post("/api/caption", **form))
            retry.append(list(took))  # the captions done by then
            gated.gate.set()
            await asyncio.gather(*first)

    asyncio.run(again())
    # a slot frees in about a caption's own time: their running average, from the first one measured
    # (the queue's wait was counted as captioning time and multiplied by the queue again: 6 s for
    # captions of 1.5 s)
    done_by_then = retry[1]
    average = done_by_then[0]
    for t in done_by_then[1:]:
        average = 0.8 * average + 0.2 * t
    said = int(retry[0].headers["Retry-After"])
    assert retry[0].status_code == 503 and said in {max(1, math.ceil(average + d)) for d in (-0.05, 0.05)}, \
        (said, done_by_then)
    assert health.json()["active"] == 2
    assert [r.status_code for r in done] == [200, 200]
    assert list(tmp_path.iterdir()) == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def live_server(app, log_level: str = "warning"):
    """A uvicorn server of `app` on a free loopback port, in a thread; yields the port."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level=log_level))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.1)
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def test_page_in_headless_chromium(captioner, trained):  # noqa: F811
    """Drive the page: pick a generated video, wait for the caption, keep a screenshot
    ($S2VT_TEST_ARTIFACTS, default test-artifacts/ in the checkout)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("no chromium binary on PATH")
    sync_api = pytest.importorskip("playwright.sync_api")
    with live_server(create_app(captioner, checkpoint_name="best.pt")) as port:
        out = os.environ.get("S2VT_TEST_ARTIFACTS", str(REPO / "test-artifacts"))
        os.makedirs(out, exist_ok=True)
        with sync_api.sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=browser, args=["--no-sandbox"])
            page = b.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("document.getElementById('model').textContent.includes('tags')")
            page.set_input_files("#file", str(trained / "videos" / "v02.mp4"))
            page.wait_for_selector("#result:not([hidden])", timeout=60_000)
            caption = page.text_content("#caption")
            notes = page.locator("#notes div").all_text_contents()
            bars = page.locator(".tag .bar").count()
            frames = page.locator("#frames img").count()
            page.screenshot(path=os.path.join(out, "serve-page.png"), full_page=True)
            b.close()
    assert caption and bars == 2 and frames == 4
    assert notes == [f"note: the model's {RANDOM_BACKBONES}"]  # (the answer's notes are shown with it)
    assert os.path.getsize(os.path.join(out, "serve-page.png")) > 1000


def test_serve_refuses_bad_settings_in_one_line(tmp_path, capsys):
    """Each bad setting in one line, exit 2; the command itself once, the others through
    cli.main in this process (a fresh interpreter each cost a minute in all)."""
    from s2vt.cli import main

    from .conftest import run_cli

    proc = run_cli("-m", "s2vt.cli", "serve", "--port", "0", "--checkpoint", str(tmp_path / "none.pt"),
                   "--workers", "0")
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == ["error: --workers must be at least 1, not 0"]
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        for args, message in ((["--workers", "0"], "--workers must be at least 1, not 0"),
                              (["--queue", "-1"], "--queue must be at least 0, not -1"),
                              (["--max-upload-mb", "1e-9"], "--max-upload-mb must allow at least one byte"),
                              (["--port", port], "cannot listen on 127.0.0.1:" + port),
                              (["--port", "99999"], "--port must be from 0 to 65535, not 99999"),
                              (["--port=-1"], "--port must be from 0 to 65535, not -1"),
                              (["--checkpoint", str(tmp_path / "none.pt")], "checkpoint not found"),
                              # a float that int() or a timer cannot take: refused in one line, not a traceback
                              (["--max-upload-mb", "nan"], "--max-upload-mb must be in (0, inf), not nan"),
                              (["--max-upload-mb", "inf"], "--max-upload-mb must be in (0, inf), not inf"),
                              (["--upload-timeout", "nan"], "--upload-timeout must be in (0, inf), not nan"),
                              (["--upload-timeout", "0"], "--upload-timeout must be in (0, inf), not 0.0"),
                              (["--max-video-seconds", "nan"], "--max-video-seconds must be in (0, inf), not nan"),
                              (["--max-video-seconds", "-1"], "--max-video-seconds must be in (0, inf), not -1.0"),
                              (["--min-upload-rate", "nan"], "--min-upload-rate must be in [0, inf), not nan"),
                              (["--min-upload-rate", "-1"], "--min-upload-rate must be in [0, inf), not -1.0")):
            code = main(["serve", "--port", port if any(a.startswith("--port") for a in args) else "0",
                         *(["--checkpoint", str(tmp_path / "none.pt")] if "--checkpoint" not in args else []), *args])
            err = capsys.readouterr().err
            assert code == 2 and message in err, err
            assert len(err.strip().splitlines()) == 1


def test_serve_refuses_an_ffmpeg_that_does_not_run(tmp_path, capsys, monkeypatch):
    """A wrong $S2VT_FFMPEG: serve started and answered every upload 422, blaming the video."""
    from extract.ffmpeg import ffmpeg_exe
    from s2vt.cli import main

    try:
        for exe, why in (("/nonexistent", "does not run"), ("/bin/true", "is not ffmpeg")):
            monkeypatch.setenv("S2VT_FFMPEG", exe)
            ffmpeg_exe.cache_clear()
            code = main(["serve", "--port", "0", "--checkpoint", str(tmp_path / "none.pt")])
            err = capsys.readouterr().err
            assert code == 2 and err.startswith(f"error: ffmpeg {exe} ($S2VT_FFMPEG) {why}"), err
            assert len(err.strip().splitlines()) == 1
    finally:
        monkeypatch.delenv("S2VT_FFMPEG")
        ffmpeg_exe.cache_clear()


def test_negative_thumbs_is_400(captioner, trained, tmp_path):  # noqa: F811
    app = create_app(captioner, upload_dir=str(tmp_path))
    r, = call(app, ("POST", "/api/caption?thumbs=-5", video_form(trained / "videos" / "v00.mp4")))
    assert r.status_code == 400 and r.json()["error"] == "thumbs must be at least 0, not -5"
    # the framework's own refusals answer in the same shape
    nope, bad, slash = call(app, ("GET", "/nope", {}), ("POST", "/api/caption?thumbs=abc", {}),
                            ("POST", "/api/caption/", video_form(trained / "videos" / "v00.mp4")))
    assert nope.status_code == 404 and nope.json() == {"error": "Not Found"}
    assert slash.status_code == 404 and slash.json() == {"error": "Not Found"}  # not a bodiless 307
    assert bad.status_code == 422 and bad.json()["error"].startswith("thumbs: ")
    assert list(tmp_path.iterdir()) == []  # refused before any upload was stored


class FakeCaptioner:
    """Just what create_app reads: the disconnect test needs a live server, not a model."""
    ckpt = {"config": {"modalities": ["c3d"]}}
    vocab, beam, decoding_used, random_note = ["<pad>"], 1, {"beam": 1}, None
    labels = type("Labels", (), {"names": ["left"], "multilabel": False})()

    def caption(self, path, with_media, max_seconds=None):
        return {"caption": "a test", "tags": []}, type("Media", (), {"times": None, "frames": None})()


def test_client_gone_mid_upload_logs_one_line_and_keeps_serving(tmp_path):
    import logging

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("uvicorn.error")  # where uvicorn logs an app's exception with its traceback
    try:
        with live_server(create_app(FakeCaptioner(), upload_dir=str(tmp_path)), log_level="info") as port:
            logger.addHandler(handler)  # (after uvicorn's Config, whose logging setup replaces handlers)
            boundary = "s2vt-test-boundary-drop"
            head = (f"POST /api/caption HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n"
                    f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n"
                    f'--{boundary}\r\nContent-Disposition: form-data; name="video"; filename="v.mp4"\r\n'
                    "Content-Type: video/mp4\r\n\r\n").encode()
            with socket.create_connection(("127.0.0.1", port)) as c:
                c.sendall(head + b"x" * 3000)  # a third of the declared body, then gone
                time.sleep(0.3)
            for _ in range(50):
                if any("disconnected" in r.getMessage() for r in records):
                    break
                time.sleep(0.1)
            after = httpx.post(f"http://127.0.0.1:{port}/api/caption",
                               files={"video": ("v.mp4", b"data", "video/mp4")}, timeout=30)
    finally:
        logger.removeHandler(handler)
    messages = [r.getMessage() for r in records if r.levelno >= logging.WARNING]
    assert [m for m in messages if "disconnected during upload" in m] and len(messages) == 1, messages
    assert not any(r.exc_info for r in records)
    assert after.status_code == 200 and after.json()["caption"] == "a test"  # still serving
    assert list(tmp_path.iterdir()) == []


def test_upload_cut_short_is_400_not_a_missing_field(tmp_path):
    """A multipart body that ends before its closing boundary (a client that stopped sending and
    closed cleanly) is named as such, not as a form without a video; a body streamed in small chunks,
    the closing marker split between two of them, is whole."""
    boundary = "s2vt-cut"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="video"; filename="v.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n").encode() + b"x" * 5000 + f"\r\n--{boundary}--\r\n".encode()
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}

    async def in_chunks():
        for i in range(0, len(body), 7):  # 7 bytes at a time: "--s2vt-cut--" straddles a chunk border
            yield body[i:i + 7]

    app = create_app(FakeCaptioner(), upload_dir=str(tmp_path))
    cut_data, cut_head, unclosed, chunked = call(
        app, ("POST", "/api/caption", {"content": body[:3000], "headers": headers}),
        ("POST", "/api/caption", {"content": body[:40], "headers": headers}),
        ("POST", "/api/caption", {"content": body[:-8], "headers": headers}),
        ("POST", "/api/caption", {"content": in_chunks(), "headers": headers}))
    for r, size in ((cut_data, "3,000"), (cut_head, "40"), (unclosed, f"{len(body) - 8:,}")):
        assert r.status_code == 400, r.text
        assert r.json() == {"error": f"upload incomplete: the multipart body ends after {size} bytes, "
                                     "before its closing boundary"}
    assert chunked.status_code == 200 and chunked.json()["caption"] == "a test"
    assert list(tmp_path.iterdir()) == []


def test_stalled_upload_is_408_and_frees_its_slot(tmp_path):
    """A client that sends the headers and a few body bytes, then nothing, is answered 408 once the
    upload timeout passes (one log line, the connection closed); its slot is free again."""
    import logging

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("uvicorn.error")
    # (no rate bound: on a loaded machine the rate check, also due after 1 s, came first: another 408)
    app = create_app(FakeCaptioner(), queue=0, upload_dir=str(tmp_path), upload_timeout=1.0, min_upload_rate=0)
    try:
        with live_server(app, log_level="info") as port:
            logger.addHandler(handler)
            boundary = "s2vt-stall"
            head = (f"POST /api/caption HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n"
                    f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n").encode()
            with socket.create_connection(("127.0.0.1", port), timeout=15) as c:
                c.sendall(head + b"--s")  # 3 bytes of the body, then silence
                peer = f"127.0.0.1:{c.getsockname()[1]}"
                time.sleep(0.3)
                busy = httpx.post(f"http://127.0.0.1:{port}/api/caption",
                                  files={"video": ("v.mp4", b"data", "video/mp4")}, timeout=30)
                answer = b""
                while chunk := c.recv(4096):  # until the server closes the connection
                    answer += chunk
            after = httpx.post(f"http://127.0.0.1:{port}/api/caption",
                               files={"video": ("v.mp4", b"data", "video/mp4")}, timeout=30)
    finally:
        logger.removeHandler(handler)
    assert busy.status_code == 503  # (queue 0: the stalled upload held the only slot)
    status, _, payload = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 408"), answer
    assert b"connection: close" in status.lower()
    assert json.loads(payload) == {"error": "upload stalled: no bytes for 1 s after 3 bytes"}
    messages = [r.getMessage() for r in records if r.levelno >= logging.WARNING]
    assert messages == [f"client {peer} sent no upload bytes for 1 s after 3 bytes: "
                        "answered 408"], messages
    assert not any(r.exc_info for r in records)
    assert after.status_code == 200 and after.json()["caption"] == "a test"  # the slot is free again
    assert list(tmp_path.iterdir()) == []


def test_trickled_upload_is_408_within_the_rate_bound_and_frees_its_slot(tmp_path):
    """A client that sends a byte just often enough never to be idle for --upload-timeout (the slowloris
    that held every slot) is answered 408 once it averages under --min-upload-rate after the first
    --upload-timeout seconds, without waiting for its next byte; its slot is free again."""
    import logging
    import select

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("uvicorn.error")
    # 1 s of grace, then 1 KB/s: 3 bytes every 0.2 s are due 408 about 1 s after they start
    app = create_app(FakeCaptioner(), queue=0, upload_dir=str(tmp_path), upload_timeout=1.0, min_upload_rate=1.0)
    try:
        with live_server(app, log_level="info") as port:
            logger.addHandler(handler)
            head = ("POST /api/caption HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n"
                    "Content-Type: multipart/form-data; boundary=s2vt-drip\r\n\r\n"
                    '--s2vt-drip\r\nContent-Disposition: form-data; name="video"; filename="v.mp4"\r\n'
                    "Content-Type: video/mp4\r\n\r\n").encode()
            with socket.create_connection(("127.0.0.1", port), timeout=15) as c:
                c.sendall(head)  # then the video's bytes, a few at a time
                peer = f"127.0.0.1:{c.getsockname()[1]}"
                t0, busy, answer = time.monotonic(), None, b""
                while time.monotonic() - t0 < 6:  # (without the rule: dripping on, never answered)
                    try:
                        c.sendall(b"xyz")
                    except OSError:  # (the server answered and closed between two drips)
                        pass
                    if busy is None:
                        time.sleep(0.2)
                        busy = httpx.post(f"http://127.0.0.1:{port}/api/caption",
                                          files={"video": ("v.mp4", b"data", "video/mp4")}, timeout=30)
                    if select.select([c], [], [], 0.2)[0]:
                        while chunk := c.recv(4096):  # until the server closes the connection
                            answer += chunk
                        break
                took = time.monotonic() - t0
            after = httpx.post(f"http://127.0.0.1:{port}/api/caption",
                               files={"video": ("v.mp4", b"data", "video/mp4")}, timeout=30)
    finally:
        logger.removeHandler(handler)
    assert busy.status_code == 503  # (queue 0: the trickle held the only slot)
    status, _, payload = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 408"), answer
    assert b"connection: close" in status.lower()
    assert took < 4, took  # 1 s of grace plus a few bytes' worth at 1 KB/s, with room for a loaded machine
    error = json.loads(payload)["error"]
    assert error.startswith("upload too slow: ") and error.endswith(" under the minimum of 1 KB/s after the first 1 s")
    messages = [r.getMessage() for r in records if r.levelno >= logging.WARNING]
    assert len(messages) == 1 and messages[0].startswith(f"client {peer} sent ") \
        and messages[0].endswith(" under 1 KB/s after 1 s: answered 408"), messages
    assert after.status_code == 200 and after.json()["caption"] == "a test"  # the slot is free again
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("params", ["; BOUNDARY=XyZbound", "; boundary = XyZbound", '; boundary="XyZbound"',
                                    "; xboundary=zzz; boundary=XyZbound", "; charset=utf-8; boundary=XyZbound"])
@pytest.mark.parametrize("media", ["multipart/form-data", "Multipart/Form-Data"])
def test_boundary_read_as_the_form_parser_reads_it(tmp_path, media, params):
    """The "upload incomplete" check finds the boundary where the form parser does: whole bodies are
    captioned, cut ones are 400, whatever the header's case, spacing or other parameters."""
    boundary = "XyZbound"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="video"; filename="v.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n").encode() + b"x" * 500 + f"\r\n--{boundary}--\r\n".encode()
    headers = {"content-type": media + params}
    app = create_app(FakeCaptioner(), upload_dir=str(tmp_path))
    whole, cut = call(app, ("POST", "/api/caption", {"content": body, "headers": headers}),
                      ("POST", "/api/caption", {"content": body[:300], "headers": headers}))
    assert whole.status_code == 200 and whole.json()["caption"] == "a test", whole.text
    assert cut.status_code == 400 and cut.json()["error"].startswith("upload incomplete: "), cut.text
    assert list(tmp_path.iterdir()) == []


def test_malformed_body_leaves_no_parser_log_line(tmp_path):
    """python-multipart's own warning about a malformed body (a bare line in the server's log) is
    not shown: the client's 400 says it."""
    import logging

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    app = create_app(FakeCaptioner(), upload_dir=str(tmp_path))
    parser_log = logging.getLogger("python_multipart.multipart")
    parser_log.addHandler(handler)
    try:
        r, = call(app, ("POST", "/api/caption", {"content": b"--garbage\r\n",
                                                 "headers": {"content-type": "multipart/form-data; boundary=XyZ"}}))
    finally:
        parser_log.removeHandler(handler)
    # (with what to send: the parser's words alone, for a raw video under a multipart Content-Type; trial 78)
    assert r.status_code == 400 and r.json() == {
        "error": "send the video as multipart/form-data with a file field named 'video' (curl -F video=@clip.mp4): "
                 "the body is no multipart form the parser can read (Invalid multipart data)"}, r.text
    assert [rec.getMessage() for rec in records] == []


def test_video_text_field_is_told_to_be_a_file(tmp_path):
    app = create_app(FakeCaptioner(), upload_dir=str(tmp_path))
    # (a multipart part without a filename: the parser's text field)
    text, other = call(app, ("POST", "/api/caption", {"files": {"video": (None, b"clip.mp4")}}),
                       ("POST", "/api/caption", {"files": {"other": ("v.mp4", b"data", "video/mp4")}}))
    assert text.status_code == 422
    assert text.json()["error"] == "the 'video' field must be a file (a multipart file upload with a filename)"
    assert other.status_code == 422
    assert other.json()["error"] == ("send the video as multipart/form-data with a file field named 'video' "
                                     "(curl -F video=@clip.mp4)")
    # a whole form of no part (its closing boundary alone): told the same, as docs/usage.md says
    empty, = call(app, ("POST", "/api/caption", {"content": b"--XyZ--\r\n",
                                                 "headers": {"content-type": "multipart/form-data; boundary=XyZ"}}))
    assert (empty.status_code, empty.json()) == (422, other.json()), empty.text


def test_two_files_or_many_fields_are_told_to_send_one_video(tmp_path):
    """Two `video` parts were answered in the form parser's words, "Too many files. Maximum number of files is
    1." (hostile trial), nine extra fields "Too many fields. Maximum number of fields is 8.": said as what to send."""
    app = create_app(FakeCaptioner(), upload_dir=str(tmp_path))
    part = ("a.mp4", b"x" * 100, "video/mp4")
    two, fields = call(app, ("POST", "/api/caption", {"files": [("video", part), ("video", part)]}),
                       ("POST", "/api/caption", {"files": {"video": part}, "data": {f"f{i}": "1" for i in range(9)}}))
    assert (two.status_code, two.json()) == (400, {"error": "send one file in the 'video' field (this form has "
                                                            "more than one file)"}), two.text
    assert (fields.status_code, fields.json()) == (400, {"error": "send one file in the 'video' field and at most 8 "
                                                                  "other fields (this form has more)"}), fields.text
    assert list(tmp_path.iterdir()) == []


def test_more_than_one_video_part_of_any_kind_is_400_and_a_big_text_field_is_said_in_our_words(tmp_path):
    """`curl -F video=@clip.mp4 -F video=hello` was 422 "'video' must be a file" though a file was sent, and
    the other order was captioned (the last part won), where two files are 400 (hostile trial): any second
    'video' part is the two files' 400, whatever the order and kinds. A text part over the form parser's
    limit (`-F video=<clip.mp4` sends the file's bytes as text) was answered in its words, "Part exceeded
    maximum size of 1024KB.": said as what to send."""
    app = create_app(FakeCaptioner(), upload_dir=str(tmp_path))
    file = ("video", ("a.mp4", b"x" * 100, "video/mp4"))
    text = ("video", (None, b"hello"))
    answers = call(app, *(("POST", "/api/caption", {"files": parts})
                          for parts in ([file, text], [text, file], [text, text], [text, text, file])))
    for r in answers:
        assert r.status_code == 400, r.text
        assert r.json()["error"].startswith("send one file in the 'video' field (this form has "), r.text
    assert answers[0].json()["error"] == "send one file in the 'video' field (this form has 2 'video' parts)"
    big, = call(app, ("POST", "/api/caption", {"files": [("video", (None, b"x" * (2 << 20)))]}))
    assert big.status_code == 400, big.text
    assert big.json()["error"] == ("send the video as multipart/form-data with a file field named 'video' "
                                   "(curl -F video=@clip.mp4): this form has a text field (a part without a "
                                   "filename) over 1,024 KB"), big.text
    one, = call(app, ("POST", "/api/caption", {"files": [file], "data": {"note": "hello"}}))
    assert one.status_code == 200 and one.json()["caption"] == "a test"  # (other fields beside one video: fine)
    assert list(tmp_path.iterdir()) == []


def test_a_raw_or_urlencoded_body_is_told_to_send_multipart(tmp_path):
    """`curl --data-binary @clip.mp4` (urlencoded: curl's default) was answered by the form parser:
    400 "Too many fields. Maximum number of fields is 8.", and an octet-stream body 422 as a form
    without a video."""
    send = "send the video as multipart/form-data with a file field named 'video' (curl -F video=@clip.mp4)"
    clip = bytes(range(256)) * 20 + b"&=" * 100  # (binary, with many `&`: many "fields" to a form parser)
    app = create_app(FakeCaptioner(), upload_dir=str(tmp_path))
    urlencoded, octet = ({"content-type": f"application/{t}"} for t in ("x-www-form-urlencoded", "octet-stream"))
    curl, octet, typeless, words, no_boundary = call(
        app, ("POST", "/api/caption", {"content": clip, "headers": urlencoded}),
        ("POST", "/api/caption", {"content": clip, "headers": octet}),
        ("POST", "/api/caption", {"content": clip}),
        ("POST", "/api/caption", {"data": {"video": "clip.mp4"}}),
        ("POST", "/api/caption", {"content": clip, "headers": {"content-type": "multipart/form-data"}}))
    for r, media in ((curl, "application/x-www-form-urlencoded"), (octet, "application/octet-stream"),
                     (words, "application/x-www-form-urlencoded")):
        assert r.status_code == 415 and r.json() == {"error": f"{send}, not a body of type {media}"}, r.text
    assert typeless.status_code == 415 and typeless.json() == {"error": f"{send}: the request has no Content-Type"}
    assert no_boundary.status_code == 400
    assert no_boundary.json() == {"error": f"{send}: the Content-Type multipart/form-data names no boundary"}
    assert list(tmp_path.iterdir()) == []
    ok, = call(app, ("POST", "/api/caption", {"files": {"video": ("v.mp4", clip, "video/mp4")}}))
    assert ok.status_code == 200 and ok.json()["caption"] == "a test"  # (the multipart upload still is captioned)


def test_head_is_answered_wherever_get_is(tmp_path):
    app = create_app(FakeCaptioner(), upload_dir=str(tmp_path))
    paths = ("/", "/healthz", "/api/model")
    gets = call(app, *(("GET", p, {}) for p in paths))
    heads = call(app, *(("HEAD", p, {}) for p in paths))
    for path, get, head in zip(paths, gets, heads):
        assert get.status_code == head.status_code == 200, (path, head.status_code, head.text)
        assert head.headers["content-type"] == get.headers["content-type"], path
        assert head.headers["content-length"] == str(len(get.content)), path  # the GET's length, as HTTP says
    # a route without GET still refuses HEAD; an unknown path is still 404 {"error"}
    post, nope = call(app, ("HEAD", "/api/caption", {}), ("HEAD", "/nope", {}))
    assert post.status_code == 405 and nope.status_code == 404
    assert post.headers["allow"] == "POST"  # (a 405 says what is allowed, as HTTP asks)


def test_a_video_whose_client_left_while_it_waited_is_not_captioned(captioner, trained, tmp_path):  # noqa: F811
    """Five clients that timed out after their hour-long uploads were all captioned, one after the
    other, while a real user's video waited behind them."""
    calls = []

    class Counted(Gated):
        def caption(self, *args, **kwargs):
            calls.append(args[0])
            return super().caption(*args, **kwargs)

    gated = Counted(captioner)
    app = create_app(gated, workers=1, queue=2, upload_dir=str(tmp_path))
    form = video_form(trained / "videos" / "v01.mp4")
    request = httpx.Request("POST", "http://test/api/caption", **form)
    body, content_type = request.read(), request.headers["content-type"]
    answers = []

    async def leaving_client():  # raw ASGI: the body, then the client is gone
        sent = []

        async def receive():
            if not sent:
                sent.append(1)
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.start":
                answers.append(message["status"])

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/api/caption", "raw_path": b"/api/caption", "query_string": b"",
                 "root_path": "", "client": ("127.0.0.1", 5), "server": ("test", 80),
                 "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]}
        await app(scope, receive, send)

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=120) as client:
            first = asyncio.create_task(client.post("/api/caption", **form))  # holds the one worker
            await asyncio.sleep(0.5)
            left = asyncio.create_task(leaving_client())
            await asyncio.sleep(0.5)
            gated.gate.set()
            return await first, await left

    first, _ = asyncio.run(go())
    assert first.status_code == 200 and len(calls) == 1  # the leaving client's video was never captioned
    assert answers == [400] and list(tmp_path.iterdir()) == []


SERVE_STUB = """
import sys, types
import s2vt.captioner, s2vt.serve
from fastapi import FastAPI

class Stub:  # (no model: what serve does once it has its app is what is tested)
    random_note = "note: the stub's backbones are random"
    def __init__(self, *args, **kwargs):
        self.extractor = types.SimpleNamespace(backbones=None)

s2vt.captioner.Captioner = Stub
s2vt.serve.create_app = lambda *args, **kwargs: FastAPI()
from s2vt.cli import main
sys.exit(main(["serve", "--port", sys.argv[1], "--checkpoint", "unused.pt"], program=True))
"""

def started_stub(tmp_path, source: str, port: int, new_session: bool = False):
    """A serve stub (`source`, run with the port) in a process of its own, its output captured as text."""
    import subprocess
    import sys

    (tmp_path / "stub.py").write_text(source)
    return subprocess.Popen([sys.executable, str(tmp_path / "stub.py"), str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path, start_new_session=new_session,
                            env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"})


@contextlib.contextmanager
def reaped(proc):
    """`proc`, killed and waited for on the way out when it still runs: a failed step leaves no server behind."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def wait_listening(proc, port: int, seconds: float = 300) -> None:
    """Until the stub listens on `port` (its model built), or fail with its stderr if it ended."""
    deadline = time.time() + seconds
    while proc.poll() is None and time.time() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()[1]


@pytest.mark.parametrize("sig, code", [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_signal_stops_the_server_cleanly_with_the_signals_exit_status(tmp_path, sig, code):
    """A SIGTERM (a `kill`, a container stop) exited 0 after serve's clean shutdown: uvicorn.run swallowed the
    signal its server re-raises. usage.md's exit codes: 143 (Ctrl-C: 130), with the `interrupted:` line."""
    import signal

    from .conftest import free_port

    port = free_port()
    with reaped(started_stub(tmp_path, SERVE_STUB, port)) as proc:
        wait_listening(proc, port)
        proc.send_signal(getattr(signal, sig))
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "Application shutdown complete" in err and err.endswith("\ninterrupted: the server stopped\n"), err
    assert "Traceback" not in err
    assert err.startswith("note: the stub's backbones are random\n"), err  # (in its log, before the server's)


def started_ignoring(tmp_path, source: str, sig: str, port: int, disposition: str = "SIG_IGN"):
    """A serve stub (`source`) in a process of its own that inherited `sig` ignored, as bash's `serve &` in a
    script does SIGINT's (or at `disposition`: SIG_DFL, as a terminal starts it). Set by an exec wrapper, not
    preexec_fn, which may deadlock in a threaded process such as pytest's."""
    import subprocess
    import sys

    (tmp_path / "stub.py").write_text(source)
    wrapper = ("import os, signal, sys; signal.signal(signal.%s, signal.%s); "
               "os.execv(sys.executable, [sys.executable, 'stub.py', sys.argv[1]])" % (sig, disposition))
    return subprocess.Popen([sys.executable, "-c", wrapper, str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"})


@pytest.mark.parametrize("sig, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_the_server_inherited_ignored_still_decides_its_exit_status(tmp_path, sig, code):
    """(hostile trial) `s2vt serve ... &` from a script, then `kill -INT`, exited 0 with no `interrupted:` line:
    bash starts a script's background jobs with SIGINT ignored, and uvicorn, which stops on the signal all the
    same, re-raised it on the way out to that SIG_IGN, which did nothing. Now the signal that stopped the
    server decides: 130 (SIGTERM: 143) and the line, as in the foreground."""
    import signal

    from .conftest import free_port

    port = free_port()
    with reaped(started_ignoring(tmp_path, SERVE_STUB, sig, port)) as proc:  # (inherited ignored, as bash's &)
        wait_listening(proc, port)
        proc.send_signal(getattr(signal, sig))
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "Application shutdown complete" in err and err.endswith("\ninterrupted: the server stopped\n"), err
    assert "Traceback" not in err


# (SERVE_STUB whose model takes 30 s to load, saying when it begins: a signal that comes while it loads)
SLOW_LOADING_STUB = SERVE_STUB.replace("""        self.extractor = types.SimpleNamespace(backbones=None)
""", """        self.extractor = types.SimpleNamespace(backbones=None)
        import time
        print("loading", file=sys.stderr, flush=True)
        time.sleep(30)
""")


@pytest.mark.parametrize("sig, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_inherited_ignored_stops_the_server_while_its_model_loads(tmp_path, sig, code):
    """(hostile trial) `s2vt serve ... &` from a script, then `kill -INT` within its first seconds (the model
    loading, before uvicorn's handlers are in place): the inherited SIG_IGN swallowed the signal and the server
    went on to serve. Now serve takes SIGINT and SIGTERM from its start: 130 (143) and the `interrupted:` line,
    as in the foreground, and it never listens."""
    import signal

    from .conftest import free_port

    port = free_port()
    with reaped(started_ignoring(tmp_path, SLOW_LOADING_STUB, sig, port)) as proc:
        assert "loading" in proc.stderr.readline()  # (the model is loading now)
        proc.send_signal(getattr(signal, sig))
        _, err = proc.communicate(timeout=20)  # (ignored: it slept on, then served, until killed)
    assert proc.returncode == code, err
    assert err == "interrupted: the server stopped\n", err  # (no traceback, no uvicorn line: it never started)


@pytest.mark.parametrize("loading", [True, False])
def test_a_sighup_stops_the_server_as_a_sigterm_does(tmp_path, loading):
    """(hostile trial) A SIGHUP (the terminal or ssh session that started serve closed) ended it at once with
    129 and no line: uvicorn takes SIGINT and SIGTERM only. Now it stops the server as SIGTERM does (uvicorn's
    clean shutdown once serving), then `interrupted: the server stopped` and 129 (128 + SIGHUP)."""
    import signal

    from .conftest import free_port

    port = free_port()
    # (SIGHUP at its default in the server, as a terminal starts it: a test run under nohup passes it on ignored,
    # which serve keeps)
    source = SLOW_LOADING_STUB if loading else SERVE_STUB
    with reaped(started_ignoring(tmp_path, source, "SIGHUP", port, "SIG_DFL")) as proc:
        if loading:
            assert "loading" in proc.stderr.readline()
        else:
            wait_listening(proc, port)
        proc.send_signal(signal.SIGHUP)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 129, err
    assert err.endswith("interrupted: the server stopped\n") and "Traceback" not in err, err
    assert loading or "Application shutdown complete" in err, err


def closed_within(conn, seconds: float) -> bool:
    """Whether the server closes `conn` (reading whatever it sends first) within `seconds`."""
    conn.settimeout(seconds)
    try:
        while conn.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:  # (closed with our bytes unread: closed all the same)
        pass
    return True


def test_a_connection_whose_request_headers_never_complete_is_closed(tmp_path):
    """(hostile trial) 300 connections that sent part of their request headers (or none: an idle one, or one
    idle after a first answer, whose keep-alive timer any byte cancelled) all stayed open after 60 s: uvicorn
    has no header timeout (slowloris). Now each request's headers must be whole within --upload-timeout
    seconds of the connection opening or of the last answer, else the connection is closed; a request whose
    headers came is answered as before."""
    import httpx

    from .conftest import free_port

    port = free_port()
    source = SERVE_STUB.replace('"unused.pt"]', '"unused.pt", "--upload-timeout", "1"]')
    with reaped(started_stub(tmp_path, source, port)) as proc:
        wait_listening(proc, port)
        half, idle, after = (socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3))
        with half, idle, after:
            half.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ")
            after.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            assert after.recv(4096).startswith(b"HTTP/1.1 404")  # (the stub's bare app: answered, kept alive)
            after.sendall(b"GET /healthz HTTP/1.1\r\nHo")
            started = time.monotonic()
            assert [closed_within(c, 10) for c in (half, idle, after)] == [True] * 3
            assert time.monotonic() - started < 5
        slow_body = socket.create_connection(("127.0.0.1", port), timeout=10)
        with slow_body:  # (headers whole, the body slow: the app's own timeouts, not this one, act)
            slow_body.sendall(b"POST /nowhere HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nab")
            assert slow_body.recv(4096).startswith(b"HTTP/1.1 404")
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 404  # (still serving)
        assert proc.poll() is None


SERVE_APP_STUB = """
import sys, types
import s2vt.captioner

class Stub:  # (no model: the real app, around a captioner that is never reached)
    ckpt = {"config": {"modalities": ["c3d"]}}
    vocab, beam, decoding_used = ["<pad>"], 1, {"beam": 1}
    labels = types.SimpleNamespace(names=["left"], multilabel=False)
    random_note = None
    def __init__(self, *args, **kwargs):
        self.extractor = types.SimpleNamespace(backbones=None)

    def caption(self, path, with_media, max_seconds=None):  # a minute of decoding, in real time
        from extract.ffmpeg import MediaError, run_ffmpeg
        open("began", "w").close()
        proc = run_ffmpeg(["-v", "error", "-re", "-f", "lavfi", "-i", "nullsrc=s=16x16:d=60", "-f", "null", "-"])
        raise MediaError(f"ffmpeg ended with {proc.returncode}")

s2vt.captioner.Captioner = Stub
from s2vt.cli import main
sys.exit(main(["serve", "--port", sys.argv[1], "--checkpoint", "unused.pt"], program=True))
"""


def test_a_second_ctrl_c_during_an_upload_stops_at_once_without_a_traceback(tmp_path):
    """The first Ctrl-C waits for the requests in progress; the second forced the stop, and asyncio.run's
    clean-up cancelled the upload: two CancelledError tracebacks in the log, a bare 500 to the client. Now
    the upload is answered 503, logged as cut off by the server stopping, and the command ends with its
    one line and 130."""
    import signal

    from .conftest import free_port

    port = free_port()
    proc = started_stub(tmp_path, SERVE_APP_STUB, port)
    boundary = "s2vt-test-boundary-stop"
    head = (f"POST /api/caption HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n"
            f'--{boundary}\r\nContent-Disposition: form-data; name="video"; filename="v.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n").encode()
    client = None
    try:
        deadline = time.time() + 300
        while proc.poll() is None and time.time() < deadline:
            with contextlib.suppress(OSError):
                client = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            time.sleep(0.2)
        assert client is not None and proc.poll() is None, proc.communicate()[1]
        client.sendall(head + b"x" * 3000)  # an upload in progress: a third of its body sent
        for _ in range(300):  # (until the app has it: a connection not yet accepted would just be refused)
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()["active"] == 1:
                break
            time.sleep(0.1)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)  # graceful: waits for the upload
        for _ in range(300):  # (until it stops listening: its shutdown has begun)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                break
            time.sleep(0.1)
        time.sleep(0.3)
        assert proc.poll() is None  # (still waiting for the upload)
        t0 = time.time()
        proc.send_signal(signal.SIGINT)  # forced
        _, err = proc.communicate(timeout=120)
        took = time.time() - t0
        client.settimeout(10)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := client.recv(65536):
                answer += chunk
    finally:
        if client is not None:
            client.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130 and took < 30, (took, err)
    assert "Traceback" not in err and "CancelledError" not in err and "Exception in ASGI" not in err, err
    assert err.endswith("\ninterrupted: the server stopped\n") and err.count("interrupted:") == 1, err
    sent = len(head.partition(b"\r\n\r\n")[2]) + 3000  # (the body's bytes: the part's header and 3000)
    assert "server stopping: client 127.0.0.1:" in err and f"upload cut off after {sent:,} bytes" in err, err
    assert "disconnected" not in err, err
    status, _, body = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 503"), answer
    assert json.loads(body) == {"error": f"the server stopped during the upload, after {sent:,} bytes"}


def test_a_forced_stop_answers_the_videos_in_progress_and_captions_no_waiting_one(tmp_path):
    """The server's forced stop (`cut_off`): the video being captioned and the one waiting for the worker
    are answered 503, logged as the server stopping (not as their clients leaving), and the waiting one is
    never captioned (the process would wait for every queued caption before it exits)."""
    import logging

    calls = []

    class Slow(FakeCaptioner):
        gate = threading.Event()

        def caption(self, path, with_media, max_seconds=None):
            calls.append(path)
            self.gate.wait(60)
            return super().caption(path, with_media, max_seconds)

    slow = Slow()
    app = create_app(slow, workers=1, queue=2, upload_dir=str(tmp_path))
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("uvicorn.error")
    form = {"files": {"video": ("v.mp4", b"data", "video/mp4")}}

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=120) as client:
            posts = [asyncio.create_task(client.post("/api/caption", **form)) for _ in range(2)]
            for _ in range(300):  # one captioning, one waiting for the worker
                if calls and (await client.get("/healthz")).json()["active"] == 2:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.3)  # (the waiting one's 4 bytes read)
            cut = app.state.cut_off()
            answers = await asyncio.gather(*posts)
            slow.gate.set()  # (the caption begun ends: its worker is free)
            await asyncio.sleep(0.3)
            return cut, answers

    logger.addHandler(handler)
    try:
        cut, answers = asyncio.run(go())
    finally:
        logger.removeHandler(handler)
        slow.gate.set()
    assert len(cut) == 2 and [r.status_code for r in answers] == [503, 503]
    assert {r.json()["error"] for r in answers} == {"the server stopped before the video was captioned"}
    assert len(calls) == 1  # the waiting video was not captioned once the worker was free
    messages = sorted(r.getMessage() for r in records)
    assert len(messages) == 2 and all(m.startswith("server stopping: client 127.0.0.1:") for m in messages), messages
    assert messages[0].endswith("answered 503") and messages[1].endswith("exits once the caption begun ends")
    assert not any("disconnected" in m for m in messages) and not any(r.exc_info for r in records)
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_at_the_terminal_lets_a_caption_finish_and_a_second_stops_its_ffmpeg(tmp_path):
    """A Ctrl-C at the terminal went to ffmpeg too (the terminal's process group): the first, meant to let
    the captions in progress finish, failed the video being decoded as unreadable; the second left the
    server waiting for the caption's worker thread, as long as its video's decoding. Now ffmpeg runs in a
    session of its own, and the forced stop kills it."""
    import signal

    from .conftest import free_port

    port = free_port()
    # (a session of its own, as a terminal's foreground job: its process group gets the Ctrl-C)
    proc = started_stub(tmp_path, SERVE_APP_STUB, port, new_session=True)
    answers = []
    poster = None
    try:
        wait_listening(proc, port)

        def post():
            answers.append(httpx.post(f"http://127.0.0.1:{port}/api/caption", timeout=120,
                                      files={"video": ("v.mp4", b"data", "video/mp4")}))

        poster = threading.Thread(target=post)
        poster.start()
        for _ in range(300):  # (until its caption has begun: ffmpeg decoding for a minute)
            if (tmp_path / "began").exists():
                break
            time.sleep(0.1)
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)  # the terminal's first Ctrl-C: graceful
        time.sleep(2)
        assert proc.poll() is None and not answers  # still captioning: its ffmpeg did not get the Ctrl-C
        t0 = time.time()
        os.killpg(proc.pid, signal.SIGINT)  # the second: forced
        _, err = proc.communicate(timeout=120)
        took = time.time() - t0
        poster.join(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130 and took < 30, (took, err)
    assert "Traceback" not in err and err.endswith("\ninterrupted: the server stopped\n"), err
    assert "video was not captioned: answered 503; the server exits once the caption begun ends" in err, err
    assert len(answers) == 1 and answers[0].status_code == 503, answers
    assert answers[0].json() == {"error": "the server stopped before the video was captioned"}


def test_stop_ffmpeg_kills_those_running_and_refuses_later_ones(monkeypatch):
    from extract import ffmpeg

    monkeypatch.setattr(ffmpeg, "_mode", {"own_session": False, "stopped": False})  # (restored after)
    ended = []
    worker = threading.Thread(target=lambda: ended.append(ffmpeg.run_ffmpeg(
        ["-v", "error", "-re", "-f", "lavfi", "-i", "nullsrc=s=16x16:d=60", "-f", "null", "-"]).returncode))
    worker.start()
    time.sleep(1)
    assert not ended  # (decoding a minute in real time)
    ffmpeg.stop_ffmpeg()
    worker.join(30)
    assert ended and ended[0] != 0
    with pytest.raises(MediaError, match="ffmpeg not started: the server is stopping"):
        ffmpeg.run_ffmpeg(["-version"])


def test_a_client_gone_while_the_server_stops_is_said_so(tmp_path):
    """A client gone during the server's stop was logged as any client leaving: a Ctrl-C at the terminal that
    stops the server may have stopped a client started there too."""
    import logging

    app = create_app(FakeCaptioner(), upload_dir=str(tmp_path))
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("uvicorn.error")
    boundary = "s2vt-test-boundary-gone"
    part = (f'--{boundary}\r\nContent-Disposition: form-data; name="video"; filename="v.mp4"\r\n\r\n').encode()

    async def leaving_client():  # raw ASGI: part of the body, then the client is gone
        messages = [{"type": "http.request", "body": part + b"x" * 100, "more_body": True},
                    {"type": "http.disconnect"}]

        async def receive():
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message):
            pass

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/api/caption", "raw_path": b"/api/caption", "query_string": b"",
                 "root_path": "", "client": ("127.0.0.1", 5), "server": ("test", 80),
                 "headers": [(b"content-type", f"multipart/form-data; boundary={boundary}".encode()),
                             (b"content-length", b"100000")]}
        await app(scope, receive, send)

    logger.addHandler(handler)
    try:
        asyncio.run(leaving_client())
        app.state.stop_requested = True  # (`stopping_server`'s, at the first Ctrl-C)
        asyncio.run(leaving_client())
    finally:
        logger.removeHandler(handler)
    assert [r.getMessage() for r in records] == [
        "client 127.0.0.1:5 disconnected during upload",
        "client 127.0.0.1:5 disconnected during upload, while the server was stopping"]
    assert list(tmp_path.iterdir()) == []


def test_the_answer_gives_extracts_notes_of_the_upload(captioner, tmp_path):
    """caption.py's --json "notes" (a video cut short, no audio track), naming the upload, never the temp file."""
    from .conftest import make_video

    whole = make_video(tmp_path / "whole.mp4", 8.0, size="64x48", extra=["-movflags", "+faststart"]).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) * 3 // 10])
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    r, = call(create_app(captioner, upload_dir=str(uploads)), ("POST", "/api/caption", video_form(cut, "c.mp4")))
    assert r.status_code == 200, r.text
    model_note, *notes = r.json()["notes"]  # (the model's random backbones first: test_caption_model_health_page)
    assert model_note == f"the model's {RANDOM_BACKBONES}"
    assert notes == captioner.caption(str(cut))["notes"] and notes[0].startswith(f"file cut short ({cut.stat().st_size:,} of the ")
    assert not any(str(uploads) in n for n in notes)


def test_an_avi_written_to_a_pipe_is_timed_by_its_frames_not_refused_as_too_long(captioner, tmp_path):
    """An AVI written to a pipe (its header's sizes never filled in) was refused 'video lasts 630.9 s, over the
    limit of 10 s', a duration ffmpeg made by scaling the header's placeholder length by the file's size (a 4 s
    clip; hostile trial): its frames are counted, and it is timed by them."""
    from .conftest import piped_avi

    piped = piped_avi(tmp_path / "piped.avi", 4.0)
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    r, = call(create_app(captioner, upload_dir=str(uploads), max_seconds=10),
              ("POST", "/api/caption", video_form(piped, "p.avi")))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["notes"] == [f"the model's {RANDOM_BACKBONES}"] and body["caption"]  # (no note of the file's own)
    assert 0 <= body["frame_times"][0] < body["frame_times"][-1] < 4.0
    r, = call(create_app(captioner, upload_dir=str(uploads), max_seconds=3),  # (the limit holds, on its real length)
              ("POST", "/api/caption", video_form(piped, "p.avi")))
    assert r.status_code == 422 and r.json() == {"error": "p.avi: video lasts 4.0 s, over the limit of 3 s"}


def test_a_sighup_ignored_under_nohup_stays_ignored(tmp_path):
    """usage.md: serve takes a SIGHUP as SIGTERM, but one inherited ignored (`nohup s2vt serve`) stays ignored:
    the server goes on serving, and a SIGTERM still stops it (143)."""
    import signal

    from .conftest import free_port

    port = free_port()
    with reaped(started_ignoring(tmp_path, SERVE_STUB, "SIGHUP", port)) as proc:
        wait_listening(proc, port)
        proc.send_signal(signal.SIGHUP)
        time.sleep(2)
        wait_listening(proc, port, seconds=5)  # (still serving)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err


def test_serve_help_shows_every_default(capsys):
    """`s2vt serve --help` showed no default for --port, nor for --host, --workers, --queue, --max-upload-mb, the
    timeouts, the decoding options or --tags (hostile trial): a server's defaults are what a user checks first."""
    import argparse

    from s2vt.cli import add_serve_arguments

    p = argparse.ArgumentParser(prog="s2vt serve")
    add_serve_arguments(p)
    shown = {a.dest: p._get_formatter()._expand_help(a) for a in p._actions if a.dest != "help"}
    assert shown["port"] == "port to listen on (default: 8000)"
    for dest, text in shown.items():
        assert "(default: " in text, (dest, text)
    assert shown["host"].endswith("(default: 127.0.0.1)") and shown["beam"].endswith("(default: 5)"), shown
    assert shown["anti_lm"].endswith("(default: 0.2)") and shown["min_upload_rate"].endswith("(default: 10.0)")
    p.print_help()
    assert "--port PORT           port to listen on (default: 8000)" in capsys.readouterr().out


def test_serve_takes_precision_as_caption_does(monkeypatch):
    """(trial 106) serve's refusal of an int8 model on a GPU (the Captioner's, shared with caption.py) advised
    --precision bf16, which serve did not have: it takes it now, and hands it to the Captioner."""
    import s2vt.serve as served
    from s2vt import cli

    seen = {}
    monkeypatch.setattr(served, "serve", lambda *a, **k: seen.update(args=a) or 0)
    assert cli.main(["serve", "--checkpoint", "m.pt", "--precision", "bf16"]) == 0
    assert seen["args"][0] == "m.pt" and seen["args"][-1] == "bf16"
