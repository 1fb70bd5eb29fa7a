"""int8 ResNet-152 two ways: our torch.ao eager path (extract/backbones/int8.py) against its
supported replacement, torchao's PT2E quantisation (X86InductorQuantizer) lowered by
torch.compile, on the same seeded random weights and frames. Needs torchao (not a dependency).
RESULT ratio: PT2E seconds / ours (1 = as fast).
Run: python bench/pt2e.py [--frames 40] [--batch 8]
"""
from __future__ import annotations

import importlib.util
import warnings

import torch
import torch.nn.functional as F
from common import at_least, bench_main, bench_parser, cpu_name, median_time, timed

from extract.backbones import build_backbone
from s2vt.errors import UserError

warnings.filterwarnings("ignore")


def pt2e_int8(fp32, example: torch.Tensor):
    """fp32.net quantised by torchao's PT2E flow on fp32's calibration media, then compiled."""
    import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer as xiq
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    net = torch.export.export(fp32.net.eval(), (example,)).module()
    quantizer = xiq.X86InductorQuantizer().set_global(xiq.get_default_x86_inductor_quantization_config())
    net = prepare_pt2e(net, quantizer)
    for chunk in torch.split(fp32.normalize(fp32.calibration_inputs()), len(example)):
        if len(chunk) == len(example):  # (exported for one batch shape)
            net(chunk)
    return torch.compile(convert_pt2e(net))


@torch.no_grad()
def main() -> None:
    p = bench_parser(__doc__)
    p.add_argument("--frames", type=at_least(1), default=40)
    p.add_argument("--batch", type=at_least(1), default=8)
    args = p.parse_args()
    if importlib.util.find_spec("torchao") is None:  # asked before minutes of fp32 and int8 runs, not after
        raise UserError("this bench needs torchao, which s2vt does not depend on: pip install torchao")
    x = torch.randint(0, 256, (args.frames, 3, 224, 224), generator=torch.Generator().manual_seed(0),
                      dtype=torch.uint8)
    fp32 = build_backbone("resnet152", "random", precision="fp32")
    ours = build_backbone("resnet152", "random", precision="int8")
    ref = fp32.embed(x, batch_size=args.batch)
    ours.embed(x, batch_size=args.batch)  # warm-up
    t_ours, y_ours = median_time(lambda: ours.embed(x, batch_size=args.batch), 3)
    cos_ours = F.cosine_similarity(y_ours, ref, dim=1).min().item()
    chunks = torch.split(fp32.normalize(x), args.batch)
    t_quant, compiled = timed(lambda: pt2e_int8(fp32, chunks[0]))
    run = lambda: torch.cat([compiled(c) for c in chunks])  # noqa: E731
    t_compile, y = timed(run)  # the first call compiles
    t_pt2e, _ = median_time(run, 3)
    cos_pt2e = F.cosine_similarity(y.flatten(1), ref, dim=1).min().item()
    print(f"{cpu_name()}, ResNet-152, {args.frames} frames at 224 px in batches of {args.batch}")
    print(f"torch.ao eager int8 (ours): {t_ours:.2f} s, min cosine vs fp32 {cos_ours:.5f}")
    print(f"torchao PT2E + torch.compile: {t_pt2e:.2f} s, min cosine vs fp32 {cos_pt2e:.5f} "
          f"(export + calibrate + convert {t_quant:.0f} s, compiling at the first call {t_compile:.0f} s)")
    print(f"RESULT pt2e_int8 ratio={t_pt2e / t_ours:.2f} target=1")


if __name__ == "__main__":
    bench_main(main)
