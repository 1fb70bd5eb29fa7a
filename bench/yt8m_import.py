"""YouTube-8M import speed: TFRecord reading + CRC checks, Example parsing, and the whole import.

Video-level: the real shards in ../shared/data/yt8m (or $S2VT_SAMPLE_DATA/yt8m) when present,
else 10 generated shards of 295 videos. Frame-level: 50 generated 300-second SequenceExamples.
The full import writes the per-video feature store (two .npy files per video) into a temp folder.
Run: python bench/yt8m_import.py [--repeats 3]
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import REPO, at_least, bench_main, bench_parser, cpu_name, median_time, table  # noqa: E402

from s2vt.tfrecord import parse_sequence_example, read_records  # noqa: E402
from s2vt.yt8m import import_yt8m  # noqa: E402
from tests.test_yt8m import frames, video, write_shard  # noqa: E402  (the tests' independent writer)


def video_shards(tmp: Path) -> tuple[list[Path], str]:
    """The real video-level shards, or generated ones of the same size."""
    real = Path(os.environ.get("S2VT_SAMPLE_DATA", REPO.parent / "shared" / "data")) / "yt8m"
    shards = sorted(real.glob("validate*.tfrecord"))
    if shards:
        return shards, f"real, {real}"
    return [write_shard(tmp / f"validate{i:04d}.tfrecord", [video(f"g{i}_{j}")[0] for j in range(295)])
            for i in range(10)], "generated"


def read_only(shards: list[Path]) -> int:
    return sum(1 for s in shards for _ in read_records(s))


def read_and_parse(shards: list[Path]) -> int:
    return sum(1 for s in shards for data in read_records(s) if parse_sequence_example(data))


def full_import(shards: list[Path], tmp: Path) -> int:
    out = Path(tempfile.mkdtemp(dir=tmp))
    return import_yt8m([str(s) for s in shards], out / "manifest.jsonl")[1]["videos"]


def main() -> None:
    p = bench_parser(__doc__)
    p.add_argument("--repeats", type=at_least(1), default=3)
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shards, where = video_shards(tmp)
        seq = [write_shard(tmp / "train_frames.tfrecord", [frames(f"f{i}", 300)[0] for i in range(50)])]
        for label, files in ((f"video-level ({where})", shards), ("frame-level (generated, 300 s each)", seq)):
            mb = sum(f.stat().st_size for f in files) / 1e6
            for step, fn in (("read + CRC", read_only), ("read + CRC + parse", read_and_parse),
                             ("full import (store + manifest)", lambda s: full_import(s, tmp))):
                t, n = median_time(lambda: fn(files), args.repeats)
                rows.append([f"{label}: {step}", n, f"{t:.3f}", f"{n / t:.0f}", f"{mb / t:.0f}"])
    print(f"{cpu_name()}; median of {args.repeats} runs")
    print(table(["YouTube-8M import", "records", "seconds", "records/s", "MB/s"], rows))
    full = rows[2]
    print(f"RESULT yt8m_import records_per_s={full[3]} (the full import; no target)")


if __name__ == "__main__":
    bench_main(main)
