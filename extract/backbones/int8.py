"""int8 post-training static quantisation of a backbone's network for x86 CPUs (oneDNN, fbgemm).

Calibrated once on procedural media (`synthetic`: deterministic, needs no data), checked
against fp32 on a held-out part of it, and cached on disk, so later runs — and
`caption.py`'s cold start — only load it. A backbone whose int8 features drift below
cosine 0.99 from fp32 falls back to fp32.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform
import re
import sys
import threading
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from s2vt.fileio import OutputError, atomic_write_bytes, refusal
from . import cpu_supports

CALIBRATION_VERSION = 3  # 3: residual adds fused on oneDNN; 2: converted int8 state; 1: prepared float state
MIN_COSINE = 0.99
CHECK_FRACTION = 4  # the last quarter of the calibration inputs is held out for the check
# oneDNN wherever the CPU has AVX2: only the onednn engine runs conv + residual add + ReLU as
# one op, and its AVX2 int8 kernels measured faster than fbgemm's too, with the same features
# (docs/benchmarks.md, "Precision"). Older CPUs: the x86 engine. Activations keep reduce_range:
# u8 x s8 pairs cannot saturate AVX2's 16-bit sums.
ENGINES = ("onednn", "x86", "fbgemm")

# torch.ao's notices (dozens per calibration: the eager API's deprecation, one per observer),
# silenced only while an int8 network is built or loaded; the replacement path is in
# docs/benchmarks.md ("int8 after torch.ao"). warnings.catch_warnings is not thread-safe and
# backbones are built in parallel threads, so the first build in adds the filters and the last out
# removes them.
TORCH_AO_NOTICES = ("torch.ao.quantization is deprecated", "Please use quant_min and quant_max",
                    "torch.quantize_per_tensor, torch.quantize_per_channel and other quantized",
                    "TypedStorage is deprecated",  # (torch.load of quantized tensors)
                    "Default qconfig of oneDNN backend with reduce_range of false")  # (replaced: reduce_range)
_notices_lock = threading.Lock()
_notices_users = 0
_notices_filters: list = []


@contextlib.contextmanager
def torch_ao_notices_off():
    """Ignore TORCH_AO_NOTICES inside the block (and only while some thread is inside one)."""
    global _notices_users
    with _notices_lock:
        if _notices_users == 0:
            for message in TORCH_AO_NOTICES:
                warnings.filterwarnings("ignore", message=message)
                _notices_filters.append(warnings.filters[0])
        _notices_users += 1
    try:
        yield
    finally:
        with _notices_lock:
            _notices_users -= 1
            if _notices_users == 0:
                for f in _notices_filters:
                    if f in warnings.filters:  # (a caller's catch_warnings may have restored them away)
                        warnings.filters.remove(f)
                _notices_filters.clear()


def engine() -> str | None:
    """The first of ENGINES this PyTorch supports (onednn only on AVX2 CPUs), or None."""
    usable = set(torch.backends.quantized.supported_engines)
    if not cpu_supports("avx2"):
        usable.discard("onednn")
    return next((e for e in ENGINES if e in usable), None)


def available() -> bool:
    """True on x86 CPUs where PyTorch has an int8 engine (and still ships torch.ao.quantization)."""
    try:
        import torch.ao.quantization  # noqa: F401
    except ImportError:
        return False
    return platform.machine().lower() in ("x86_64", "amd64") and engine() is not None


def cache_dir() -> Path:
    """$S2VT_CACHE_DIR, else <torch hub dir>/s2vt-int8."""
    return Path(os.environ.get("S2VT_CACHE_DIR") or Path(torch.hub.get_dir()) / "s2vt-int8")


_unwritable: set[str] = set()  # cache folders already warned of (backbones are built in parallel threads)
_unwritable_lock = threading.Lock()


def keep_cache(path: Path, data: bytes) -> None:
    """Write the cache file `path`; where its folder cannot hold it, one warning per folder naming it (and
    $S2VT_CACHE_DIR, where that set it), not an error: the cache only spares the next run a calibration,
    and `S2VT_CACHE_DIR=/proc/nope` stopped extraction saying `cannot write /proc/nope`, naming neither."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
        return
    except OSError as e:  # (mkdir's)
        reason = refusal(folder, e)
    except OutputError as e:  # (the write's: a full disk, a read-only folder)
        reason = str(e).removeprefix(f"cannot write {os.fsdecode(path)}: ")
    with _unwritable_lock:
        if str(folder) in _unwritable:
            return
        _unwritable.add(str(folder))
    named = f"$S2VT_CACHE_DIR ({folder})" if os.environ.get("S2VT_CACHE_DIR") else str(folder)
    # (printed, not warnings.warn: the commands build backbones with warnings off, for the random-weight notices)
    print(f"warning: {named}: cannot keep the int8 calibration cache there ({reason}); the backbones are "
          "calibrated again on each run until " + ("it names a writable folder" if named != str(folder)
                                                   else "it is writable or $S2VT_CACHE_DIR names one"), file=sys.stderr)


class QuantizedNet(nn.Module):
    """Quantise the float input, run the converted network, return float features."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        from torch.ao.quantization import DeQuantStub, QuantStub
        self.quant, self.net, self.dequant = QuantStub(), net, DeQuantStub()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dequant(self.net(self.quant(x)))


def _prepared(net: nn.Module) -> QuantizedNet:
    """Fuse conv(+bn)(+relu) groups and insert observers; the float model is modified in place."""
    from torch.ao.quantization import MinMaxObserver, fuse_modules, get_default_qconfig, prepare
    net.eval()
    for name in getattr(net, "int8_unused", ()):
        delattr(net, name)  # layers a feature never reaches: no point converting them
    fuse_modules(net, net.fuse_groups(), inplace=True)
    q = QuantizedNet(net)
    # min/max activation ranges, not the default histogram search: as close to fp32 here,
    # never narrower than the calibration data, and their qparams come for free when the cache
    # is loaded, where the search cost seconds per load (docs/benchmarks.md)
    q.qconfig = get_default_qconfig(torch.backends.quantized.engine)._replace(
        activation=MinMaxObserver.with_args(reduce_range=True))
    return prepare(q, inplace=True)


def _convert(q: QuantizedNet) -> QuantizedNet:
    from torch.ao.quantization import convert
    q = convert(q, inplace=True).eval()
    _fuse_residual_adds(q.net, packed=True)
    return q


class ConvAddReLU(nn.Module):
    """relu(conv(x) + other) as one oneDNN op, standing in for a residual block's add+ReLU.

    The block's code stays `add_relu.add_relu(bn(conv(x)), other)`: its conv (and bn) become
    Identity and this module, in the add's place, runs the conv with the add's output scale.
    """

    def __init__(self, conv: nn.Module) -> None:
        super().__init__()
        self.conv = conv

    def add_relu(self, x: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        return self.conv(x, other)


def _fuse_residual_adds(net: nn.Module, packed: bool) -> None:
    """On the onednn engine, fold each (conv, add+ReLU) pair `net.int8_residual_adds()` names into
    one ConvAddReLU. `packed`: the convs hold their weights (else a cached state comes next)."""
    import torch.ao.nn.intrinsic.quantized as nniq
    if torch.backends.quantized.engine != "onednn" or not hasattr(net, "int8_residual_adds"):
        return
    for conv_name, add_name in net.int8_residual_adds():
        conv, add = net.get_submodule(conv_name), net.get_submodule(add_name)
        fused = _shaped(nniq.ConvAddReLU2d, conv, conv.bias() is not None)
        if packed:
            fused.set_weight_bias(conv.weight(), conv.bias())
        fused.scale, fused.zero_point = add.scale, add.zero_point
        net.set_submodule(conv_name, nn.Identity())
        net.set_submodule(add_name, ConvAddReLU(fused))


_CONV_SHAPE = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
               "padding_mode")


def _shaped(cls, like: nn.Module, bias: bool) -> nn.Module:
    """An int8 conv of type `cls` with `like`'s shape and a placeholder weight.

    Built 1x1 and then given the shape: the constructor packs a placeholder weight of the
    size it is given (a measurable part of loading), and loading the state (or
    set_weight_bias) packs the real weights from these attributes anyway.
    """
    q = cls(1, 1, 1, bias=bias)
    for name in _CONV_SHAPE:
        setattr(q, name, getattr(like, name))
    return q


def _int8_layer(layer: nn.Module, relu: bool, bias: bool) -> nn.Module:
    """The int8 module torch.ao's convert makes of a fused layer[+bn][+relu] group, weights unset
    (built small, see `_shaped`)."""
    import torch.ao.nn.intrinsic.quantized as nniq
    import torch.ao.nn.quantized as nnq
    if type(layer) is nn.Linear:
        q = (nniq.LinearReLU if relu else nnq.Linear)(1, 1, bias)
        q.in_features, q.out_features = layer.in_features, layer.out_features
        return q
    convs = {(nn.Conv2d, False): nnq.Conv2d, (nn.Conv2d, True): nniq.ConvReLU2d,
             (nn.Conv3d, False): nnq.Conv3d, (nn.Conv3d, True): nniq.ConvReLU3d}
    if (type(layer), relu) not in convs:
        raise TypeError(f"no int8 form for {type(layer).__name__}")
    return _shaped(convs[type(layer), relu], layer, bias)


def _int8_structure(net: nn.Module) -> QuantizedNet:
    """The module tree `_convert(_prepared(net))` produces, built directly from `net`'s layer shapes.

    Loading a cached int8 state into it quantises nothing and packs each layer's weights once,
    where fusing, observing and converting the float model first took seconds of caption.py's
    cold start (docs/benchmarks.md). Tests check both paths give identical features.
    """
    import torch.ao.nn.quantized as nnq
    from torch.ao.nn.quantized import FloatFunctional
    for name in getattr(net, "int8_unused", ()):
        delattr(net, name)
    for first, *rest in net.fuse_groups():
        layer, others = net.get_submodule(first), [net.get_submodule(n) for n in rest]
        relu = any(isinstance(m, nn.ReLU) for m in others)
        bias = layer.bias is not None or any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in others)
        net.set_submodule(first, _int8_layer(layer, relu, bias))
        for n in rest:
            net.set_submodule(n, nn.Identity())
    for name, m in list(net.named_modules()):  # layers outside every group (VGGish's last Linear)
        if type(m) in (nn.Conv2d, nn.Conv3d, nn.Linear):
            net.set_submodule(name, _int8_layer(m, relu=False, bias=m.bias is not None))
    for name, m in list(net.named_modules()):
        if type(m) is FloatFunctional:
            net.set_submodule(name, nnq.QFunctional())
    _fuse_residual_adds(net, packed=False)
    q = QuantizedNet(net)
    q.quant, q.dequant = nnq.Quantize(1.0, 0, torch.quint8), nnq.DeQuantize()
    return q.eval()


# a cache file's name: the backbone's name, a dash, 16 hex digits of its key's sha1 (`cache_path`); declared once,
# for `cache_files` too: `weights list` counts only files of this name (S2VT_CACHE_DIR may be a shared folder)
CACHE_NAME = "{name}-{digest}.pt"
CACHE_FILE = re.compile(r"[a-z0-9_]+-[0-9a-f]{16}\.pt")


def cache_files(folder: Path) -> list[Path]:
    """The int8 cache's own files directly in `folder` (named as `cache_path` names them); [] when there is none."""
    try:
        return sorted(p for p in folder.iterdir() if CACHE_FILE.fullmatch(p.name) and p.is_file())
    except OSError:  # (no such folder, or not one)
        return []


def cache_path(model) -> Path:
    """Cache file of `model`'s int8 network: keyed on weights, image size, calibration and torch."""
    key = {"name": model.name, "weights": model.weight_id, "image_size": getattr(model, "image_size", None),
           "torch": torch.__version__,
           "engine": torch.backends.quantized.engine, "calibration": CALIBRATION_VERSION}
    if model.weight_file is not None:
        st = Path(model.weight_file).stat()
        key["file"] = [str(Path(model.weight_file).resolve()), st.st_size, st.st_mtime_ns]
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir() / CACHE_NAME.format(name=model.name, digest=digest)


def calibrate(model) -> tuple[float, dict]:
    """Quantise `model.net` from its synthetic calibration media: (min cosine int8 vs fp32, calibrated state)."""
    x = model.normalize(model.calibration_inputs())
    held = len(x) - len(x) // CHECK_FRACTION
    with torch.no_grad():
        ref = model.net(x[held:])
        q = _prepared(model.net)
        for chunk in torch.split(x[:held], 16):
            q(chunk)
        q = _convert(q)
        state = q.state_dict()
        cos = F.cosine_similarity(q(x[held:]), ref, dim=1).min().item()
    model.net = q
    return cos, state


def build_int8(cls, weights: str, weights_dir, seed: int, **options):
    """A backbone of class `cls` whose network runs in int8, or None where int8 drifts from fp32."""
    with torch_ao_notices_off():
        return _build_int8(cls, weights, weights_dir, seed, **options)


def _build_int8(cls, weights: str, weights_dir, seed: int, **options):
    torch.backends.quantized.engine = engine()
    model = cls.create(weights=weights, weights_dir=weights_dir, seed=seed, load=False, **options)
    path = cache_path(model)
    if os.path.isfile(path):  # (False, not a PermissionError, for a cache folder this user cannot read)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            q = _int8_structure(model.net)
            q.load_state_dict(state["state_dict"], strict=True)
            model.net = q
            model.int8_cosine = float(state["cosine"])
            model.precision = "int8"
            return model.eval()
        except Exception as e:  # a stale or damaged cache is rebuilt, never trusted
            warnings.warn(f"{path}: unreadable int8 cache ({type(e).__name__}: {e}); recalibrating")
    model = cls.create(weights=weights, weights_dir=weights_dir, seed=seed, **options).eval()
    cos, state = calibrate(model)
    if cos < MIN_COSINE:
        warnings.warn(f"{model.name}: int8 features drift from fp32 (cosine {cos:.4f} < {MIN_COSINE}); "
                      "using fp32")
        return None
    buf = io.BytesIO()
    torch.save({"state_dict": state, "cosine": cos}, buf)
    keep_cache(path, buf.getvalue())
    model.int8_cosine = cos
    model.precision = "int8"
    return model
