"""`s2vt serve` under load: 8 concurrent clients x 50 requests on loopback against a running server,
against caption.py's in-process path (`captioner.Captioner`, one video after another) on the same videos.

Reports: every answer's status (no 5xx allowed), p50/p95 latency, throughput of the server vs
in-process (target >= 0.9x), and the server's RSS after start, after one warm-up request per
video, and after the run (growth over the run < 10 %). The server runs its defaults (1 worker,
queue 16 > 8 clients, beam 5). The two are measured in alternating rounds (each client's
requests split into --rounds parts, the in-process path doing as many videos in between), so a
change in the machine's load between them does not decide the ratio. The checkpoint is a random
S2VT (hidden 256, 1,000 words) over seeded random backbones with small extraction settings
(4 frames, 1 C3D clip, 64 px); videos are 2 s 320x180 with sound.
Run: python bench/serve.py [--clients 8] [--requests 50] [--rounds 5]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import torch

from common import REPO, at_least, bench_main, bench_parser, cpu_name, make_videos, table

from extract.pipeline import ExtractConfig, Extractor
from s2vt.data import Labels
from s2vt.checkpoint import save_checkpoint
from s2vt.consensus import CaptionMemory
from s2vt.model import ModelConfig, S2VT
from s2vt.captioner import Captioner
from s2vt.vocab import SPECIALS, Vocab

warnings.filterwarnings("ignore")
BOUNDARY = "s2vt-bench-boundary-5d1c"


def make_checkpoint(path: Path) -> None:
    ex = Extractor(ExtractConfig(weights="random", frames=4, clips=1, image_size=64))
    vocab = Vocab([*SPECIALS, *(f"w{i}" for i in range(1000 - 4))])
    labels = Labels([f"tag{i}" for i in range(20)], multilabel=False)
    torch.manual_seed(0)
    model = S2VT(ModelConfig.former({m: b.dim for m, b in ex.backbones.items()}, len(vocab), 20, hidden=256, embed=256))
    # a caption memory as training writes one (random captions of 200 videos), so that serving decodes as it
    # does with a real checkpoint, consensus reranking included, and warns of no missing memory
    gen = torch.Generator().manual_seed(1)
    captions = [[torch.randint(4, len(vocab), (6 + j,), generator=gen).tolist() for j in range(5)] for _ in range(200)]
    memory = CaptionMemory.build(torch.randn(200, model.cfg.hidden, generator=gen), captions, vocab.eos,
                                 ids=[f"train{i}" for i in range(200)])
    save_checkpoint(path, model, vocab, labels, ex.meta(), 0, {}, {"memory": memory.state()}, has_captions=True)


def form(path: Path) -> bytes:
    head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="video"; filename="{path.name}"\r\n'
            "Content-Type: video/mp4\r\n\r\n").encode()
    return head + path.read_bytes() + f"\r\n--{BOUNDARY}--\r\n".encode()


def post(url: str, body: bytes) -> tuple[int, float]:
    """(HTTP status, seconds) of one caption request."""
    request = urllib.request.Request(url, body, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=600) as r:
            json.load(r)
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    return status, time.perf_counter() - t0


def rss_mib(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    p = bench_parser(__doc__)
    p.add_argument("--clients", type=at_least(1), default=8)
    p.add_argument("--requests", type=at_least(1), default=50, help="per client")
    p.add_argument("--videos", type=at_least(1), default=8)
    p.add_argument("--rounds", type=at_least(1), default=5, help="alternations of server and in-process measurement")
    p.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "s2vt-bench-videos"))
    p.add_argument("--write-checkpoint", help=argparse.SUPPRESS)  # (in a child: see below)
    args = p.parse_args()
    if args.write_checkpoint:
        return make_checkpoint(Path(args.write_checkpoint))
    videos = make_videos(Path(args.cache), args.videos, 2, size="320x180")
    bodies = [form(v) for v in videos]
    n = args.clients * args.requests
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "bench.pt"
        # written by a child, so this process holds what caption.py holds and no more
        subprocess.run([sys.executable, __file__, "--write-checkpoint", str(ckpt)], check=True,
                       stderr=subprocess.DEVNULL)
        port = free_port()
        url = f"http://127.0.0.1:{port}/api/caption"
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
        server = subprocess.Popen([sys.executable, "-m", "s2vt.cli", "serve", "--checkpoint", str(ckpt),
                                   "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            for _ in range(600):  # the backbones load before the server listens
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
                    break
                except OSError:
                    time.sleep(0.5)
            rss_start = rss_mib(server.pid)
            for body in bodies:  # warm-up: one request per video
                assert post(url, body)[0] == 200
            rss_warm = rss_mib(server.pid)
            captioner = Captioner(str(ckpt))  # caption.py's path, in this process
            for v in videos:
                captioner.caption(str(v))
            results: list[tuple[int, float]] = []
            lock = threading.Lock()

            def client(i: int, first: int, count: int) -> None:
                for j in range(first, first + count):
                    r = post(url, bodies[(i + j) % len(bodies)])
                    with lock:
                        results.append(r)

            served_s = local_s = 0.0
            per_round = -(-args.requests // args.rounds)
            for first in range(0, args.requests, per_round):
                count = min(per_round, args.requests - first)
                t0 = time.perf_counter()
                for k in range(args.clients * count):  # the same videos, one after another
                    captioner.caption(str(videos[k % len(videos)]))
                local_s += time.perf_counter() - t0
                threads = [threading.Thread(target=client, args=(i, first, count)) for i in range(args.clients)]
                t0 = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                served_s += time.perf_counter() - t0
            rss_end = rss_mib(server.pid)
        finally:
            server.terminate()
            server.wait(30)

    codes = {c: sum(s == c for s, _ in results) for c in sorted({s for s, _ in results})}
    lat = sorted(s for _, s in results)
    p50, p95 = statistics.median(lat), lat[min(len(lat) - 1, int(0.95 * len(lat)))]
    ratio = (n / served_s) / (n / local_s)
    growth = rss_end / rss_warm - 1
    print(f"{args.clients} clients x {args.requests} requests, {len(videos)} 2-s 320x180 videos; {cpu_name()}, "
          f"{torch.get_num_threads()} threads; load average {os.getloadavg()[0]:.1f} at the end")
    print(table(["measure", "value", "target"], [
        ["answers by status", " ".join(f"{c}: {k}" for c, k in codes.items()), "no 5xx"],
        ["latency p50 (s)", f"{p50:.2f}", ""],
        ["latency p95 (s)", f"{p95:.2f}", ""],
        ["server throughput (videos/s)", f"{n / served_s:.2f}", ""],
        ["in-process caption.py path (videos/s)", f"{n / local_s:.2f}", ""],
        ["server / in-process", f"{ratio:.2f}", ">= 0.9"],
        ["server RSS after start / warm-up / run (MiB)", f"{rss_start:.0f} / {rss_warm:.0f} / {rss_end:.0f}", ""],
        ["RSS growth over the run", f"{100 * growth:+.1f} %", "< 10 %"],
    ]))
    print(f"RESULT serve_throughput_ratio value={ratio:.2f} target=0.9")
    print(f"RESULT serve_rss_growth value={100 * growth:.1f}% target=10%")
    assert all(c < 500 for c in codes), codes


if __name__ == "__main__":
    bench_main(main)
