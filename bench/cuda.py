"""CUDA check: extraction, training, evaluate and caption.py on a GPU against the CPU, one run.

1. Renders the demo's labelled clips and extracts them with the default settings (40 frames,
   8 C3D clips, 224 px, seeded random weights: the same networks everywhere) on the CPU in
   fp32, on the GPU in fp32 (cuDNN's default TF32 convolutions), in fp32 with TF32 off
   (NVIDIA_TF32_OVERRIDE=0) and in bf16; compares every GPU feature with the CPU's.
2. Trains `train.py` (the demo's recipe) on the GPU's fp32 features, on the GPU and on the CPU.
3. `s2vt evaluate` and `caption.py` on the test clips, on the GPU and on the CPU: same answers?
4. Training throughput on MLDS shapes (synthetic 80x4096 store): GPU vs CPU samples/s.

Every step runs the real command line in a subprocess; every figure goes to --out (JSON),
written after each step so a late failure keeps the earlier ones.
Run: python bench/cuda.py --out cuda.json [--per-combo 1]
"""
from __future__ import annotations

import csv
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import at_least, bench_main, bench_parser  # noqa: E402

from s2vt.errors import UserError  # noqa: E402
from s2vt.store import FeatureStore  # noqa: E402
from s2vt.manifest import read_manifest  # noqa: E402
from s2vt.demo import DEMO_RECIPE, make_dataset  # noqa: E402
from s2vt.options import as_option  # noqa: E402
from s2vt.synthetic import make_store  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# (the demo's, as its options: a copy of them here had lost --no-attention, --no-refit and --caption-weights none;
# trial 109)
DEMO_OPTIONS = [word for name, value in DEMO_RECIPE.items() for word in shlex.split(as_option(name, value))]


def run(args: list[str], env: dict | None = None, timeout: float = 900) -> tuple[float, subprocess.CompletedProcess]:
    """Wall time and result of `python ARGS` in the repository."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {}),
                                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} exited {proc.returncode}: {proc.stderr[-1500:]}")
    return wall, proc


def compare(a_root: Path, b_root: Path, ids: list[str]) -> dict:
    """Per modality: worst relative max-abs difference and the mean/min cosine of feature rows."""
    a, b = FeatureStore(a_root), FeatureStore(b_root)
    out = {}
    for m in a.modalities():
        rel, cos = [], []
        for vid in ids:
            x, y = a.read(m, vid).astype(np.float64), b.read(m, vid).astype(np.float64)
            if x.size == 0:
                continue
            rel.append(float(np.abs(x - y).max() / max(np.abs(x).max(), 1e-12)))
            num = (x * y).sum(1)
            den = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
            cos.extend((num / np.maximum(den, 1e-12)).tolist())
        out[m] = {"max_rel_diff": max(rel), "mean_cosine": float(np.mean(cos)), "min_cosine": float(min(cos)),
                  "rows": len(cos)}
    return out


def samples_per_s(run_dir: Path) -> float:
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    return float(np.median([float(r["samples_per_s"]) for r in rows]))


def main() -> None:
    p = bench_parser(__doc__)
    p.add_argument("--out", required=True, help="JSON file for every figure")
    p.add_argument("--work", default="/tmp/s2vt-cuda-check")
    p.add_argument("--per-combo", type=at_least(1), default=1, help="demo clips per colour x motion x sound")
    p.add_argument("--smoke", action="store_true",
                   help="dry run of this script on the CPU with tiny settings (checks the script, not a GPU: "
                        "the cuda_* entries then ran on the CPU, and the JSON says \"smoke\": true)")
    args = p.parse_args()
    work, out = Path(args.work), Path(args.out)
    gpu = "cpu" if args.smoke else "cuda"
    tiny = ["--frames", "4", "--clips", "1", "--image-size", "64"] if args.smoke else []
    if not args.smoke and not torch.cuda.is_available():
        raise UserError("no CUDA GPU: nothing to check (--smoke tries the script on the CPU)")
    if out.exists() or out.is_symlink():  # (rewritten after every step: a best.pt named so was lost; trial 96)
        raise UserError(f"{out} exists: name a new --out file (this check's JSON, rewritten after each step)")
    # (found only after the clips were rendered, as a traceback; trial 97)
    if not out.parent.is_dir():
        raise UserError(f"--out {out}: no folder {out.parent}: make it first, or name a file in a folder that exists")
    if out.resolve().is_relative_to(work.resolve()):
        raise UserError(f"--out {out} is inside --work {work}, the check's own files: name a file outside it")
    # (a second run into the same --work extracted nothing, all done already, and timed that as extraction; its
    # evaluate then refused the first run's predictions; trial 108)
    if work.is_dir() and any(work.iterdir()):
        raise UserError(f"--work {work} holds an earlier check's files: name a new --work (each run times its own "
                        "extraction, training and evaluation from nothing)")
    res: dict = {"gpu": torch.cuda.get_device_name(0) if gpu == "cuda" else None, "torch": torch.__version__, "cuda": torch.version.cuda,
                 "cpu": platform.processor() or platform.machine(), "cpu_threads": torch.get_num_threads(), "smoke": args.smoke}
    with open("/proc/cpuinfo") as f:
        res["cpu"] = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), res["cpu"])

    def save(step: str, value) -> None:
        res[step] = value
        part = out.with_name(f".{out.name}.part")  # (whole after each step: a killed run leaves the last one)
        part.write_text(json.dumps(res, indent=1))
        os.replace(part, out)
        print(f"[{step}] {json.dumps(value)}", flush=True)

    def step(name: str, fn) -> None:
        try:
            save(name, fn())
        except Exception as e:  # record and go on: the later steps are independent figures
            save(name, {"error": f"{type(e).__name__}: {e}"[:2000]})

    manifest = make_dataset(work / "demo", args.per_combo)
    entries = read_manifest(manifest)
    ids = [e["video_id"] for e in entries]
    test_videos = [str(work / "demo" / e["path"]) for e in entries if e["split"] == "test"]
    save("videos", {"clips": len(ids), "test": len(test_videos)})

    stores = {"cpu_fp32": ("cpu", "fp32", {}), "cuda_fp32": (gpu, "fp32", {}),
              "cuda_fp32_no_tf32": (gpu, "fp32", {"NVIDIA_TF32_OVERRIDE": "0"}), "cuda_bf16": (gpu, "bf16", {})}

    def extract(name: str) -> dict:
        device, precision, env = stores[name]
        wall, _ = run(["-m", "extract", str(manifest), "--out", str(work / name), "--weights", "random",
                       "--device", device, "--precision", precision, "--dtype", "float32", *tiny], env)
        return {"seconds": round(wall, 1), "videos_per_s": round(len(ids) / wall, 2)}

    for name in stores:
        step(f"extract_{name}", lambda name=name: extract(name))
    for name in ("cuda_fp32", "cuda_fp32_no_tf32", "cuda_bf16"):
        step(f"features_{name}_vs_cpu_fp32", lambda name=name: compare(work / "cpu_fp32", work / name, ids))

    store = work / "cuda_fp32"
    ckpt = work / "run_cuda" / "best.pt"

    def train(label: str, device: str) -> dict:
        wall, proc = run(["train.py", "--manifest", str(manifest), "--features", str(store), "--out",
                          str(work / f"run_{label}"), "--device", device, "--overwrite", *DEMO_OPTIONS])
        with open(work / f"run_{label}" / "metrics.csv") as f:
            rows = list(csv.DictReader(f))
        return {"seconds": round(wall, 1), "epochs": len(rows), "samples_per_s": samples_per_s(work / f"run_{label}"),
                "best_val_CIDEr": max(float(r["CIDEr"]) for r in rows)}

    step("train_demo_cuda", lambda: train("cuda", gpu))
    step("train_demo_cpu", lambda: train("cpu", "cpu"))

    def evaluate(label: str, device: str) -> dict:
        preds = work / f"preds_{label}.json"
        wall, proc = run(["-m", "s2vt.cli", "evaluate", "--checkpoint", str(ckpt), "--manifest", str(manifest),
                          "--features", str(store), "--split", "test", "--device", device, "--out", str(preds),
                          "--json"])
        return {"seconds": round(wall, 1), "metrics": json.loads(proc.stdout)}

    step("evaluate_cuda", lambda: evaluate("cuda", gpu))
    step("evaluate_cpu", lambda: evaluate("cpu", "cpu"))

    def caption(device: str, *extra: str) -> dict:
        wall, proc = run(["caption.py", *test_videos, "--checkpoint", str(ckpt), "--device", device, "--json",
                          *extra])
        rows = [json.loads(x) for x in proc.stdout.splitlines()]
        return {"seconds": round(wall, 1), "per_video_s": [r["seconds"] for r in rows],
                "answers": [{"caption": r["caption"], "tags": r["tags"]} for r in rows]}

    step("caption_cuda_fp32", lambda: caption(gpu))
    step("caption_cuda_bf16", lambda: caption(gpu, "--precision", "bf16"))
    step("caption_cpu_fp32", lambda: caption("cpu"))

    def agreement() -> dict:
        evals = {d: {r["video_id"]: r["caption"] for r in json.loads((work / f"preds_{d}.json").read_text())}
                 for d in ("cuda", "cpu")}
        cap = {k: [a["caption"] for a in res[k]["answers"]] for k in
               ("caption_cuda_fp32", "caption_cuda_bf16", "caption_cpu_fp32")}
        ev = [evals["cuda"][Path(v).stem] for v in test_videos]
        return {"evaluate_cuda_eq_cpu": evals["cuda"] == evals["cpu"],
                "caption_cuda_fp32_eq_cpu_fp32": cap["caption_cuda_fp32"] == cap["caption_cpu_fp32"],
                "caption_cuda_bf16_eq_cpu_fp32": cap["caption_cuda_bf16"] == cap["caption_cpu_fp32"],
                "caption_cuda_eq_evaluate_cuda": cap["caption_cuda_fp32"] == ev,
                "test_clips": len(test_videos)}

    step("agreement", agreement)

    syn_manifest, syn_store = make_store(work / "mlds_shapes", videos=512, shapes={"cnn": (80, 4096)})

    def throughput(label: str, device: str) -> dict:
        run_dir = work / f"mlds_{label}"
        wall, _ = run(["train.py", "--manifest", str(syn_manifest), "--features", str(syn_store), "--out",
                       str(run_dir), "--device", device, "--epochs", "2", "--min-count", "1", "--overwrite"])
        return {"seconds": round(wall, 1), "samples_per_s": samples_per_s(run_dir)}

    step("train_mlds_shapes_cuda", lambda: throughput("cuda", gpu))
    step("train_mlds_shapes_cpu", lambda: throughput("cpu", "cpu"))


if __name__ == "__main__":
    bench_main(main)
