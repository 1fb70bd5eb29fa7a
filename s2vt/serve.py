"""`s2vt serve`: a checkpoint's captioner behind a JSON API and a web page (the `.[serve]` extra:
FastAPI + uvicorn + python-multipart).

The backbones and the model load once (`captioner.Captioner`, the path caption.py takes); each
request's video is streamed to a temp file (a size limit, removed whatever happens) and
captioned in a bounded worker pool. Only uploads are read: the server never fetches a URL.
"""
import asyncio
import contextlib
import logging
import math
import os
import re
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


from .errors import HungUp, SettingError, Terminated, UserError, extra_install_hint
from extract.ffmpeg import MediaError, check_ffmpeg, ffmpeg_in_own_session, stop_ffmpeg
from .decode import TAGS_SHOWN, DecodeConfig
from .manifest import VIDEO_EXTENSIONS
from .options import at_least, in_interval

from .thumbnails import thumbnails

PAGE = Path(__file__).with_name("static") / "index.html"
MAX_THUMBNAILS = 16
# `--upload-timeout`'s default (declared here once; cli.py reads it): long enough for a phone on a
# poor link between two packets, short enough that idle connections cannot hold every slot for long
UPLOAD_TIMEOUT = 30.0
# `--min-upload-rate`'s default, in KB/s (1024 bytes): the idle timeout alone let a client trickling a
# byte per interval hold its slot for as long as it liked, so the body must also average this rate
# after a first `--upload-timeout` seconds of grace. 10 KB/s (80 kb/s) is below a 2G phone's uplink;
# a 200 MB upload has 30 s + 5.7 h
MIN_UPLOAD_RATE = 10.0
# `--max-video-seconds`'s default: a small upload can hold hours of audio (an hour of 6 kb/s Opus is
# under 4 MB), and the audio's decoding time and memory grow with its length; an hour covers talks
# and episodes, and a longer video is refused from its probed duration before anything is decoded
MAX_VIDEO_SECONDS = 3600.0
# `--workers`, `--queue` and `--max-upload-mb`'s defaults (declared here once; cli.py reads them): one video
# captioned at a time (the backbones use every core), sixteen waiting, uploads up to 200 MB
WORKERS, QUEUE, MAX_UPLOAD_MB = 1, 16, 200
# `--max-upload-mb` limits the video file; the multipart body around it (boundaries, part headers, the
# client's file name, up to 8 small fields) may be this much larger. A body past both is cut off as it
# streams (or refused from its Content-Length before a byte is read); the file's own size is then
# checked exactly: a 1,048,500-byte file was refused under `--max-upload-mb 1` for its 200-byte envelope
FORM_ALLOWANCE = 64 << 10
# uvicorn's own logger: uvicorn configures its handlers, so the line shows beside its access log
log = logging.getLogger("uvicorn.error")


class TooLarge(Exception):
    """The request body passed the upload limit."""


class Stalled(Exception):
    """No body bytes came within the upload timeout."""


class TooSlow(Exception):
    """The body came in slower than the minimum average rate (after the grace seconds)."""


def require_serve_extra() -> None:
    try:
        import fastapi  # noqa: F401
        import multipart  # noqa: F401  (python-multipart, for FastAPI's form parsing)
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise UserError(f"s2vt serve needs the serve extra ({e.name} is missing): {extra_install_hint('serve')}") \
            from None


class BodyWatch:
    """An ASGI `receive` wrapper: raises TooLarge once more than `limit` body bytes have come in,
    Stalled when nothing comes for `timeout` seconds (a client that stops sending would otherwise hold
    its slot for as long as it keeps the connection open) and TooSlow once fewer than
    `min_rate * (elapsed - timeout)` bytes have come `elapsed` seconds after the first read (a client
    trickling a byte just inside every timeout would otherwise hold its slot as long; `min_rate` 0: no
    minimum), and notes whether the multipart body's closing boundary (`--BOUNDARY--`) came, so that an
    upload cut short is told apart from a form without a video (the parser accepts a truncated body
    silently)."""

    def __init__(self, receive, limit: int, boundary: bytes, timeout: float = UPLOAD_TIMEOUT,
                 min_rate: float = MIN_UPLOAD_RATE * 1024) -> None:
        self.receive, self.limit, self.timeout, self.min_rate = receive, limit, timeout, min_rate
        self.closing = b"--" + boundary + b"--"
        self.seen = 0
        self.closed = False
        self.tail = b""  # the last bytes of the previous chunk: a marker may straddle two chunks
        self.start = None  # when the body was first read: the rate's clock

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def due(self) -> float:
        """Seconds until the bytes seen so far fall under the minimum rate (inf without one)."""
        return self.timeout + self.seen / self.min_rate - self.elapsed() if self.min_rate else math.inf

    async def __call__(self):
        if self.start is None:
            self.start = time.monotonic()
        # each read waits for the sooner of the idle timeout and the rate's deadline: a trickle that
        # beats the first is caught by the second without waiting for its next byte
        due = self.due()
        if due <= 0:
            raise TooSlow
        try:
            message = await asyncio.wait_for(self.receive(), min(self.timeout, due))
        except asyncio.TimeoutError:  # (the builtin TimeoutError from Python 3.11, its own class in 3.10)
            raise TooSlow if due < self.timeout else Stalled from None
        if message["type"] == "http.request":
            body = message.get("body", b"")
            self.seen += len(body)
            if self.seen > self.limit:
                raise TooLarge
            if not self.closed and self.closing != b"----":
                self.closed = self.closing in self.tail + body
                self.tail = (self.tail + body)[-len(self.closing):]
        return message


def content_type(header: str | None) -> tuple[bytes, dict]:
    """A Content-Type header's (media type, parameters), read as starlette's form parser reads it
    (python-multipart's `parse_options_header`: the media type and the parameter names in any case,
    blanks around `=`, quotes)."""
    try:  # where starlette imports it from: python-multipart >= 0.0.13, else its older module name
        from python_multipart.multipart import parse_options_header
    except ModuleNotFoundError:
        from multipart.multipart import parse_options_header
    return parse_options_header(header)


def form_boundary(header: str | None) -> bytes:
    """The boundary of a `multipart/form-data` Content-Type header; b"" for any other media type or
    none named."""
    media, params = content_type(header)
    return params.get(b"boundary", b"") if media == b"multipart/form-data" else b""


# how a video is sent, said wherever one is sent otherwise
SEND_AS = "send the video as multipart/form-data with a file field named 'video' (curl -F video=@clip.mp4)"


def _peer(request) -> str:
    client = request.client
    return f"{client.host}:{client.port}" if client else "?"


def check_limits(workers: int, queue: int, max_bytes: int, upload_timeout: float = UPLOAD_TIMEOUT,
                 max_seconds: float = MAX_VIDEO_SECONDS, min_upload_rate: float = MIN_UPLOAD_RATE) -> None:
    at_least("--workers", workers, 1)
    at_least("--queue", queue, 0)
    if max_bytes < 1:  # (serve refused 0 and less in MB; here a fraction of a byte)
        raise SettingError(f"--max-upload-mb must allow at least one byte ({1 / (1 << 20):.1e} MB)")
    in_interval("--upload-timeout", upload_timeout, "(0, inf)")  # (NaN and inf refused: a timer needs a number)
    in_interval("--max-video-seconds", max_seconds, "(0, inf)")  # (NaN would refuse nothing; inf is no JSON)
    in_interval("--min-upload-rate", min_upload_rate, "[0, inf)")  # (0: no minimum; NaN would refuse nothing)


def check_address(host: str, port: int) -> None:
    """Refuse an address this machine cannot listen on now (in use, not ours), before the model loads."""
    import socket

    if not 0 <= port <= 65535:  # (the socket's own words, "bind(): port must be 0-65535.", named no option)
        raise SettingError(f"--port must be from 0 to 65535, not {port}")
    try:
        with socket.create_server((host, port)):
            pass
    except (OSError, OverflowError) as e:
        raise UserError(f"cannot listen on {host}:{port}: {getattr(e, 'strerror', None) or e}") from None


def create_app(captioner, workers: int = WORKERS, queue: int = QUEUE, max_bytes: int = int(MAX_UPLOAD_MB * (1 << 20)),
               upload_dir: str | None = None, checkpoint_name: str = "", upload_timeout: float = UPLOAD_TIMEOUT,
               max_seconds: float = MAX_VIDEO_SECONDS, min_upload_rate: float = MIN_UPLOAD_RATE):
    """The ASGI app around a loaded `captioner.Captioner`: at most `workers` videos captioned at
    once and `queue` more waiting (uploads included); beyond that 503 with Retry-After; an upload
    that sends nothing for `upload_timeout` seconds, or averages under `min_upload_rate` KB/s after
    its first `upload_timeout` seconds: 408, its slot freed; a video lasting more than `max_seconds`:
    422, from its probed duration (nothing decoded)."""
    # (no `from __future__ import annotations` in this module: FastAPI reads the handlers' annotations)
    from fastapi import FastAPI, Request
    from fastapi.responses import HTMLResponse, JSONResponse
    from starlette.datastructures import UploadFile
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.requests import ClientDisconnect

    from .captioner import RANDOM_BACKBONES

    check_limits(workers, queue, max_bytes, upload_timeout, max_seconds, min_upload_rate)
    # python-multipart warns of a malformed body on its own logger, which nothing configures, so the
    # message came out as a bare line in the server's log beside our 400 (which says it): errors only
    for name in ("python_multipart", "multipart"):  # (its module's name from 0.0.13, and before)
        logging.getLogger(name).setLevel(logging.ERROR)
    # (no schema either: /docs was 404 while /openapi.json answered one nothing documents)
    app = FastAPI(title="s2vt", docs_url=None, redoc_url=None, openapi_url=None)
    # a path with a trailing slash is not ours: 404 {"error"}, not a 307 to a POST's other path
    app.router.redirect_slashes = False
    pool = ThreadPoolExecutor(workers, thread_name_prefix="s2vt-caption")
    # requests holding a slot, and a caption's time (None until one is measured; the event loop is the
    # only writer); `stopping`: the server is cutting off the requests in progress (`cut_off`)
    state = {"active": 0, "seconds": None, "stopping": False}
    requests = set()  # the tasks of the caption requests in progress (`cut_off` cancels them)
    page = PAGE.read_text(encoding="utf-8")
    ckpt, vocab, labels = captioner.ckpt, captioner.vocab, captioner.labels
    # (each answer carries it: a client reads no server log; trial 123's open item)
    model_note = f"the model's {RANDOM_BACKBONES}" if captioner.random_note else None
    model_info = {"checkpoint": checkpoint_name, "modalities": sorted(ckpt["config"]["modalities"]),
                  "vocab_size": len(vocab), "tags": list(labels.names), "multilabel": labels.multilabel,
                  "epoch": ckpt.get("epoch"), "metrics": ckpt.get("metrics", {}),
                  "backbones": ckpt.get("extract", {}).get("backbones", {}), "beam": captioner.beam,
                  "decoding": captioner.decoding_used, "max_upload_bytes": max_bytes,
                  "max_video_seconds": max_seconds, "note": model_note}

    def while_stopping() -> str:
        """What a client's disconnect line adds once the server has been told to stop (`stopping_server`): a
        Ctrl-C at a terminal may have stopped a client started there too."""
        return ", while the server was stopping" if app.state.stop_requested else ""

    def error(status: int, message: str, **headers) -> JSONResponse:
        return JSONResponse({"error": message}, status, headers=headers or None)

    # FastAPI's and starlette's own refusals (an unknown path, a query that is not a number, a malformed
    # form) answer as ours do, {"error": one line}, not {"detail": ...}
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), **(exc.headers or {}))  # (a 405's Allow, for one)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ())[1:])
        return error(422, f"{where}: {first.get('msg', 'invalid request')}" if where else first.get("msg", "invalid"))

    # each GET route answers HEAD too (curl -I, uptime probes), as a web server does: @app.get alone
    # answers HEAD with 405
    @app.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.api_route("/healthz", methods=["GET", "HEAD"])
    def healthz() -> dict:
        return {"status": "ok", "active": state["active"], "workers": workers, "queue": queue}

    @app.api_route("/api/model", methods=["GET", "HEAD"])
    def model() -> dict:
        return model_info

    @app.post("/api/caption")
    async def caption(request: Request, thumbs: int = 0):
        if thumbs < 0:  # (refused before the upload is read: the answer would not depend on it)
            return error(400, f"thumbs must be at least 0, not {thumbs}")
        # a raw body (`curl --data-binary @clip.mp4`: urlencoded by curl's default, or octet-stream) was
        # parsed as a form: the parser's "Too many fields", or a form without a video. Refused by its
        # media type, before a byte is read
        media, params = content_type(request.headers.get("content-type"))
        if media != b"multipart/form-data":
            return error(415, f"{SEND_AS}, not a body of type {media.decode('latin-1')}" if media
                         else f"{SEND_AS}: the request has no Content-Type")
        if not params.get(b"boundary"):  # (the parser's own "Missing boundary in multipart." says less)
            return error(400, f"{SEND_AS}: the Content-Type multipart/form-data names no boundary")
        if state["active"] >= workers + queue:
            # when a slot frees: the first of the videos being captioned ends, in a caption's time
            # over the workers on average (the waiting ones hold their slots until then)
            wait = math.ceil((state["seconds"] or 1.0) / workers)
            return error(503, f"busy: {state['active']} videos are being captioned or waiting; retry later",
                         **{"Retry-After": str(max(1, wait))})
        envelope = f"the limit of {max_bytes:,} bytes for the video (plus {FORM_ALLOWANCE:,} for the multipart form " \
                   "around it)"
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes + FORM_ALLOWANCE:
            return error(413, f"upload of {int(declared):,} bytes is over {envelope}")
        state["active"] += 1
        requests.add(task := asyncio.current_task())
        path = form = body = None
        captioning = False  # (past the upload: waiting for a worker, or being captioned)
        try:
            boundary = form_boundary(request.headers.get("content-type"))
            body = BodyWatch(request.receive, max_bytes + FORM_ALLOWANCE, boundary, upload_timeout,
                             min_upload_rate * 1024)
            try:
                form = await Request(request.scope, body).form(max_files=1, max_fields=8)
            except TooLarge:
                return error(413, f"upload is over {envelope}")
            except StarletteHTTPException as e:  # (the parser's limits, in its words: "Too many files. Maximum
                # number of files is 1." for two 'video' parts; said as what to send)
                if "Too many files" in str(e.detail):
                    return error(400, "send one file in the 'video' field (this form has more than one file)")
                if "Too many fields" in str(e.detail):
                    return error(400, "send one file in the 'video' field and at most 8 other fields (this form "
                                      "has more)")
                if "exceeded maximum size" in str(e.detail):  # a text part over the parser's limit (its own
                    # "Part exceeded maximum size of 1024KB."): `curl -F video=<clip.mp4` sends a file's bytes so
                    limit = re.search(r"(\d+)\s*KB", str(e.detail))
                    return error(400, f"{SEND_AS}: this form has a text field (a part without a filename) over "
                                      + (f"{int(limit[1]):,} KB" if limit else "the form parser's limit"))
                if e.status_code == 400:  # ("Invalid multipart data." for a raw video sent under a multipart
                    # Content-Type, a header line over the parser's limit: said with what to send; trial 78)
                    return error(400, f"{SEND_AS}: the body is no multipart form the parser can read "
                                      f"({str(e.detail).rstrip('.')})")
                raise
            except Stalled:  # (the rest of its body, should it come, is uvicorn's to drop: we close)
                log.warning("client %s sent no upload bytes for %g s after %s bytes: answered 408", _peer(request),
                            upload_timeout, f"{body.seen:,}")
                return error(408, f"upload stalled: no bytes for {upload_timeout:g} s after {body.seen:,} bytes",
                             Connection="close")
            except TooSlow:  # (a trickle that never goes idle long enough to be Stalled)
                took = body.elapsed()
                log.warning("client %s sent %s upload bytes in %.1f s, under %g KB/s after %g s: answered 408",
                            _peer(request), f"{body.seen:,}", took, min_upload_rate, upload_timeout)
                return error(408, f"upload too slow: {body.seen:,} bytes in {took:.1f} s, under the minimum of "
                                  f"{min_upload_rate:g} KB/s after the first {upload_timeout:g} s", Connection="close")
            except ClientDisconnect:  # a client gone mid-upload is routine, not a server fault: no traceback
                # (starlette closed the spooled parts; our temp file is made only once the form is whole)
                log.warning("client %s disconnected during upload%s", _peer(request), while_stopping())
                return error(400, "client disconnected during upload")  # (uvicorn drops it: nobody listens)
            if body.seen and not body.closed and boundary:
                return error(400, f"upload incomplete: the multipart body ends after {body.seen:,} bytes, "
                                  "before its closing boundary")
            # one 'video' part, as two files are refused above: a file and a text part were answered by the
            # last one (captioned, or 422 "must be a file" though a file was sent)
            if (parts := len(form.getlist("video"))) > 1:
                return error(400, f"send one file in the 'video' field (this form has {parts} 'video' parts)")
            upload = form.get("video")
            if isinstance(upload, str):  # a part named video without a filename: the parser's text field
                return error(422, "the 'video' field must be a file (a multipart file upload with a filename)")
            if not isinstance(upload, UploadFile):
                return error(422, SEND_AS)
            name = os.path.basename(upload.filename or "upload")
            # the limit is on the file: its own size, exactly (the parser counted it as it spooled it)
            size = upload.size
            if size > max_bytes:
                return error(413, f"{name}: video of {size:,} bytes is over the limit of {max_bytes:,} bytes")
            suffix = Path(name).suffix.lower()
            # the client's name is only shown, never used as a path: the temp file is ours
            fd, path = tempfile.mkstemp(prefix="s2vt-upload-", suffix=suffix if suffix in VIDEO_EXTENSIONS else "",
                                        dir=upload_dir)
            with os.fdopen(fd, "wb") as f:
                while chunk := await upload.read(1 << 20):
                    f.write(chunk)
            # a client that leaves while its video waits for a worker (a timeout, a closed tab) is not
            # captioned when the worker comes: an hour-long video nobody reads would hold it for minutes
            gone, began = threading.Event(), threading.Event()
            watch = asyncio.create_task(watch_disconnect(request.receive, gone))

            def timed():  # (in the worker: a caption's own time, not its wait for a worker)
                if gone.is_set() or state["stopping"]:  # (nor when the server stops: it would wait for them all)
                    return None, 0.0
                began.set()
                t0 = time.time()
                return captioner.caption(path, True, max_seconds=max_seconds), time.time() - t0

            captioning = True
            try:
                answer, took = await asyncio.get_running_loop().run_in_executor(pool, timed)
            except MediaError as e:  # caption.py's one line (or too long), naming the upload, not the temp file
                return error(422, str(e).replace(path, name))
            finally:
                watch.cancel()
            if answer is None:
                log.warning("client %s disconnected while its video waited: not captioned%s", _peer(request),
                            while_stopping())
                return error(400, "client disconnected before its video was captioned")  # (nobody listens)
            result, media = answer
            # (the first caption sets it: averaged with a guess, it took ~10 captions to reach a real time)
            state["seconds"] = took if state["seconds"] is None else 0.8 * state["seconds"] + 0.2 * took
            result["video"] = name
            result["notes"] = [model_note] * bool(model_note) + [n.replace(path, name)  # (never the temp file)
                                                                 for n in result.get("notes", [])]
            result["frame_times"] = [round(float(t), 3) for t in media.times] if media.times is not None else []
            if thumbs:
                result["thumbnails"] = thumbnails(media.frames, media.times, min(thumbs, MAX_THUMBNAILS))
            return result
        except asyncio.CancelledError:  # `cut_off`: the server is being forced to stop (a second Ctrl-C)
            if not state["stopping"]:
                raise  # (a cancel that is not ours is passed on)
            if hasattr(task, "uncancel"):  # (Python 3.11+: answered, not cancelled; its response still goes out)
                task.uncancel()
            if captioning:
                log.warning("server stopping: client %s's video was not captioned: answered 503%s", _peer(request),
                            # (a thread cannot be stopped: the process waits for it to end)
                            "; the server exits once the caption begun ends" if began.is_set() else "")
                return error(503, "the server stopped before the video was captioned", Connection="close")
            seen = f"{body.seen:,}" if body is not None else "0"
            log.warning("server stopping: client %s's upload cut off after %s bytes: answered 503", _peer(request),
                        seen)
            return error(503, f"the server stopped during the upload, after {seen} bytes", Connection="close")
        finally:
            requests.discard(task)
            state["active"] -= 1
            if form is not None:
                await form.close()
            if path is not None:
                Path(path).unlink(missing_ok=True)

    def cut_off() -> list:
        """Stop the caption requests in progress (a forced stop: a second Ctrl-C): each is answered 503
        and logged as cut off by the server; their tasks, to await before the event loop closes."""
        state["stopping"] = True
        for task in requests:
            task.cancel()
        return list(requests)

    app.state.cut_off = cut_off
    app.state.stop_requested = False  # (set by `stopping_server` at the first Ctrl-C or SIGTERM)
    return app


async def watch_disconnect(receive, gone: threading.Event) -> None:
    """Set `gone` once the client disconnects. After the request body, an ASGI server's `receive`
    answers only `http.disconnect`: when the client leaves, or once the response is sent."""
    while (await receive()).get("type") != "http.disconnect":
        pass
    gone.set()


def serve(checkpoint: str, host: str = "127.0.0.1", port: int = 8000, workers: int = WORKERS, queue: int = QUEUE,
          max_upload_mb: float = MAX_UPLOAD_MB, beam=DecodeConfig.beam, tags: int = TAGS_SHOWN, device: str = "cpu",
          weights_dir: str | None = None, upload_timeout: float = UPLOAD_TIMEOUT,
          max_video_seconds: float = MAX_VIDEO_SECONDS, min_upload_rate: float = MIN_UPLOAD_RATE,
          precision: str | None = None) -> int:
    """`s2vt serve`: load the captioner (backbones included) once, then serve until Ctrl-C (`beam`: a
    `DecodeConfig`, or a bare beam width; `precision`: the backbones', as caption.py's --precision)."""
    import warnings

    from .captioner import Captioner

    require_serve_extra()
    import uvicorn

    in_interval("--max-upload-mb", max_upload_mb, "(0, inf)")  # (int() of NaN or inf would be a traceback)
    max_bytes = int(max_upload_mb * (1 << 20))
    check_limits(workers, queue, max_bytes, upload_timeout, max_video_seconds, min_upload_rate)
    check_address(host, port)
    check_ffmpeg()  # (a wrong $S2VT_FFMPEG: refused now, not every upload answered 422 as a bad video)

    with warnings.catch_warnings():  # the random-weights notice was given when the checkpoint was trained
        warnings.simplefilter("ignore")
        captioner = Captioner(checkpoint, beam, tags, device, weights_dir, precision)
        _ = captioner.extractor.backbones  # built now, not on the first request
    if captioner.random_note:  # (in the server's log; each answer says it too)
        print(captioner.random_note, file=sys.stderr, flush=True)
    app = create_app(captioner, workers, queue, max_bytes, checkpoint_name=Path(checkpoint).name,
                     upload_timeout=upload_timeout, max_seconds=max_video_seconds, min_upload_rate=min_upload_rate)
    # uvicorn.run swallows the Ctrl-C or SIGTERM its server re-raises after its clean shutdown, and returned
    # 0: its Server, run itself, lets it through, to the command's `interrupted:` line and 130 or 143
    server = stopping_server(uvicorn.Config(app, host=host, port=port, log_level="info",
                                            http=header_timeout_protocol(upload_timeout)))
    ffmpeg_in_own_session()  # (a Ctrl-C at the terminal is the server's to act on: `stopping_server`)
    server.run()
    if server.stopped_by is not None:  # uvicorn re-raised it to a handler that did nothing: a SIG_IGN inherited
        # (bash's `serve &` in a script), which made a Ctrl-C's stop exit 0
        raise {signal.SIGTERM: Terminated, getattr(signal, "SIGHUP", None): HungUp}.get(server.stopped_by,
                                                                                     KeyboardInterrupt)
    return 0 if server.started else STARTUP_FAILURE  # (uvicorn logged why: the port taken since it was checked)


STARTUP_FAILURE = 3  # uvicorn.run's exit status when the server could not start


def header_timeout_protocol(seconds: float):
    """uvicorn's h11 protocol (its own choice, plain uvicorn having no httptools) with a deadline on each
    request's headers: whole within `seconds` of the connection opening or of the last answer, else the
    connection is closed. uvicorn has none (its keep-alive timer starts only after an answer, and any byte
    cancels it): 300 connections sending half a header, or nothing, all stayed open (slowloris). The body is
    the app's to time (`--upload-timeout`, `--min-upload-rate`)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class Protocol(H11Protocol):
        header_timer = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self.await_headers()

        def on_response_complete(self) -> None:
            super().on_response_complete()  # (it reads a pipelined request already there: then no deadline)
            self.await_headers()

        def handle_events(self) -> None:
            super().handle_events()
            if self.header_timer is not None and self.conn.their_state is not h11.IDLE:  # (the headers came)
                self.header_timer.cancel()
                self.header_timer = None

        def connection_lost(self, exc) -> None:
            if self.header_timer is not None:
                self.header_timer.cancel()
                self.header_timer = None
            super().connection_lost(exc)

        def await_headers(self) -> None:
            """The deadline for the next request's headers, while none has come (their_state IDLE)."""
            if self.header_timer is not None:
                self.header_timer.cancel()
                self.header_timer = None
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self.header_timer = self.loop.call_later(seconds, self.headers_late)

        def headers_late(self) -> None:
            self.header_timer = None
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self.transport.close()  # (as uvicorn's keep-alive timeout does: no answer, no log line)

    return Protocol


def stopping_server(config):
    """A uvicorn Server for `config` (its app: `create_app`'s) whose forced stop (a second Ctrl-C, the first
    waiting for the requests in progress) ends those requests itself, each answered 503, their ffmpeg killed,
    and shuts the app down: uvicorn left them, and the app's lifespan, to asyncio.run's clean-up, which
    cancelled each with a CancelledError traceback in the log and a bare 500 to its client."""
    import uvicorn

    class Server(uvicorn.Server):
        cut = ()
        stopped_by = None  # the first signal caught while serving (its exit status and line: `serve`)

        @contextlib.contextmanager
        def capture_signals(self):
            # SIGHUP as SIGTERM (uvicorn takes SIGINT and SIGTERM only: a closed terminal ended the server at
            # once, no shutdown, no line), unless ignored (`nohup`); put back before uvicorn re-raises the
            # signals it caught on the way out, so that the handler before (`errors.hung_up`) gets it too
            with super().capture_signals():
                hup = getattr(signal, "SIGHUP", None)
                if hup is None or threading.current_thread() is not threading.main_thread() or \
                        signal.getsignal(hup) is signal.SIG_IGN:
                    yield
                    return
                before = signal.signal(hup, self.handle_exit)
                try:
                    yield
                finally:
                    signal.signal(hup, before)

        def handle_exit(self, sig, frame) -> None:
            forced = self.force_exit
            if self.stopped_by is None:
                self.stopped_by = sig
            super().handle_exit(sig, frame)
            config.app.state.stop_requested = True
            if self.force_exit and not forced:
                try:  # (a signal handler: the requests are cut off from the event loop, at its next turn)
                    asyncio.get_running_loop().call_soon_threadsafe(self.cut_off)
                except RuntimeError:  # no loop running (not started, or ended): no request to cut off
                    pass

        def cut_off(self) -> None:
            self.cut = config.app.state.cut_off()
            stop_ffmpeg()  # (the captions begun end now: a worker's thread cannot be stopped, its ffmpeg can)

        async def shutdown(self, sockets=None) -> None:
            await super().shutdown(sockets)
            if self.force_exit:
                if self.cut:  # their 503s sent (a few loop turns) before the loop closes
                    await asyncio.wait(self.cut, timeout=5)
                done = getattr(self.lifespan, "shutdown_event", None)  # (forced during uvicorn's own call: done)
                if done is None or not done.is_set():
                    await self.lifespan.shutdown()  # (the app has no shutdown hook of its own to hang on)

    return Server(config)
