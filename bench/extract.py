"""Extraction throughput: our pipeline vs the anchors' way, on the same generated videos.

Baseline (what public S2VT code bases do): ffmpeg writes EVERY frame as a 400x300 JPEG,
40 are picked with linspace, PIL loads them, torchvision transforms, fp32 ResNet-152 one
video at a time. Ours: one ffmpeg decode to a raw pipe selecting only the needed frames,
decode-ahead threads, frames of several videos batched, precision auto (int8 on an x86
CPU without bf16 units, calibrated once per machine and cached; the one-time calibration
is timed and printed separately), and the same pipeline in fp32 for comparison.
Both use the same seeded random ResNet-152 weights (the speed does not depend on them).
Run: python bench/extract.py [--videos 12] [--seconds 10] [--repeats 3]
"""
from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from common import at_least, bench_main, bench_parser, cpu_name, fresh_int8_cache, make_videos, table, timed

from extract.backbones import build_backbone
from extract.ffmpeg import ffmpeg_cmd, ffmpeg_path
from extract.pipeline import ExtractConfig, Extractor

warnings.filterwarnings("ignore")


def baseline_video(path: Path, net, tmp: Path) -> np.ndarray:
    """The anchors' way for one video: all frames to JPEG, 40 by linspace, PIL, fp32 ResNet-152."""
    from PIL import Image
    from torchvision import transforms

    frames = tmp / path.stem
    frames.mkdir(exist_ok=True)
    subprocess.run(ffmpeg_cmd(["-loglevel", "error", "-y", "-i", ffmpeg_path(path), "-vf", "scale=400:300", "-q:v", "2",
                               str(frames / "%05d.jpg")]), check=True)
    files = sorted(frames.glob("*.jpg"))
    pick = [files[i] for i in np.linspace(0, len(files) - 1, 40).astype(int)]
    tf = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                             transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    x = torch.stack([tf(Image.open(f).convert("RGB")) for f in pick])
    with torch.no_grad():
        feats = net(x).numpy()
    for f in files:
        f.unlink()
    return feats


def ours(extractor: Extractor, videos: list[Path]) -> dict:
    out = {}
    extractor.run([(p.stem, str(p)) for p in videos], lambda d, f: out.__setitem__(d.video_id, f))
    return out


def main() -> None:
    p = bench_parser(__doc__)
    p.add_argument("--videos", type=at_least(1), default=12)
    p.add_argument("--seconds", type=at_least(1, float), default=10)
    p.add_argument("--repeats", type=at_least(1), default=3)
    p.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "s2vt-bench-videos"))
    args = p.parse_args()
    videos = make_videos(Path(args.cache), args.videos, args.seconds)
    n = len(videos)

    # baseline: the same weights in a plain fp32 model, default memory format
    import torchvision
    torch.manual_seed(0)
    base_net = torchvision.models.resnet152(zero_init_residual=True).eval()
    base_net.fc = torch.nn.Identity()

    fresh_int8_cache()
    t0 = time.perf_counter()
    Extractor(ExtractConfig(weights="random"))
    t_calib = time.perf_counter() - t0
    configs = [(("resnet152",), "fp32"), (("resnet152",), "auto"), (("c3d",), "fp32"), (("c3d",), "auto"),
               (("vggish",), "fp32"),
               (("vggish",), "auto"), (("resnet152", "c3d", "vggish"), "auto")]
    extractors = {c: Extractor(ExtractConfig(modalities=c[0], weights="random", precision=c[1])) for c in configs}

    # repeats interleaved (baseline, then each of ours, then again): a slow spell of this shared
    # machine then falls on every pipeline alike instead of on whichever ran during it
    times: dict = {c: [] for c in ["baseline", *configs]}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            times["baseline"].append(timed(lambda: [baseline_video(v, base_net, Path(tmp)) for v in videos])[0])
            for c in configs:
                times[c].append(timed(lambda: ours(extractors[c], videos))[0])
    t_base = statistics.median(times["baseline"])
    rows = [["baseline: JPEG dump + PIL + fp32 per video (resnet152)", f"{t_base:.1f}", f"{n / t_base:.3f}", "1.00"]]
    for mods, precision in configs:
        t, ex = statistics.median(times[mods, precision]), extractors[mods, precision]
        used = "/".join(sorted({b.precision for b in ex.backbones.values()}))
        rows.append([f"ours: {'+'.join(mods)} ({used})", f"{t:.1f}", f"{n / t:.3f}",
                     f"{t_base / t:.2f}" if mods == ("resnet152",) else ""])

    # decode vs network: the same work, timed separately, single-threaded order
    ex = extractors[("resnet152", "c3d", "vggish"), "auto"]
    t0 = time.perf_counter()
    decoded = [ex.decode(v.stem, str(v)) for v in videos]
    t_decode = time.perf_counter() - t0
    t0 = time.perf_counter()
    for d in decoded:
        ex.features([d])
    t_net = time.perf_counter() - t0

    # faithfulness: features at the chosen precision vs fp32 on the same inputs, every video
    cos = {}
    for m in ex.cfg.modalities:
        ref = build_backbone(m, "random", precision="fp32")
        got = ex.backbones[m]
        cos[m] = min(torch.nn.functional.cosine_similarity(ref.embed(d.inputs[m]), got.embed(d.inputs[m]), dim=1)
                     .min().item() for d in decoded)
    prec = ex.backbones["resnet152"].precision

    print(f"{n} videos, {args.seconds:g} s, 640x360, 25 fps; {cpu_name()}, {torch.get_num_threads()} threads; "
          f"median of {args.repeats} interleaved runs; ResNet precision: {prec}")
    print(table(["pipeline", "seconds", "videos/s", "ratio"], rows))
    print(f"all three modalities: decode {t_decode / (t_decode + t_net):.0%} of the time, networks "
          f"{t_net / (t_decode + t_net):.0%} (decode {t_decode / n:.2f} s/video, networks {t_net / n:.2f} s/video)")
    print(f"features vs fp32 on the same inputs, all {n} videos: min cosine ResNet-152 {cos['resnet152']:.5f}, "
          f"C3D {cos['c3d']:.5f}, VGGish {cos['vggish']:.5f}")
    print(f"one-time int8 calibration of ResNet-152 + C3D + VGGish (then cached): {t_calib:.1f} s")
    ratio = t_base / statistics.median(times[("resnet152",), "auto"])
    print(f"RESULT extract_resnet152 ratio={ratio:.2f} target=4")


if __name__ == "__main__":
    bench_main(main)
