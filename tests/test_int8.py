"""int8 backbones: faithful to fp32 on real decoded video, cached, and never trusted when they drift."""

import warnings
from pathlib import Path

import pytest
import torch

from extract.backbones import build_backbone, cpu_supports, int8
from extract.pipeline import ExtractConfig, Extractor

pytestmark = pytest.mark.skipif(not int8.available(), reason="no x86 int8 engine in this PyTorch")


def cosines(a, b):
    return torch.nn.functional.cosine_similarity(torch.as_tensor(a).float(), torch.as_tensor(b).float(), dim=1)


@pytest.fixture(scope="module")
def fp32_and_int8(videos):
    """ResNet-152 (112 px), C3D and VGGish features of a generated video, in fp32 and in int8."""
    out = {}
    for precision in ("fp32", "int8"):
        ex = Extractor(ExtractConfig(weights="random", image_size=112,
                                     clips=2, frames=8, precision=precision))
        assert {b.precision for b in ex.backbones.values()} == {precision}
        out[precision] = ex.features([ex.decode("v", str(videos["mp4_aac"]))])[0]
    return out


@pytest.mark.parametrize("name", ["resnet152", "c3d", "vggish"])
def test_int8_features_stay_faithful(fp32_and_int8, name):
    a, b = fp32_and_int8["fp32"][name], fp32_and_int8["int8"][name]
    assert a.shape == b.shape and len(a) > 0
    assert cosines(a, b).min() >= 0.99
    assert not torch.equal(torch.as_tensor(a), torch.as_tensor(b))  # really a different path


@pytest.mark.parametrize("avx2", [True, False])
def test_engine_is_onednn_only_on_avx2_cpus(monkeypatch, avx2):
    monkeypatch.setattr(torch.cpu, "_is_avx2_supported", lambda: avx2)
    if avx2 and "onednn" not in torch.backends.quantized.supported_engines:
        pytest.skip("this PyTorch has no onednn engine")
    assert (int8.engine() == "onednn") is avx2
    assert int8.engine() in torch.backends.quantized.supported_engines


def test_cpu_supports_agrees_with_proc_cpuinfo():
    if not Path("/proc/cpuinfo").is_file():
        pytest.skip("no /proc/cpuinfo")
    flags = next(line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("flags"))
    assert cpu_supports("avx2") == ("avx2" in flags)
    assert not cpu_supports("no_such_feature")


def test_auto_picks_int8_on_this_cpu():
    ex = Extractor(ExtractConfig(weights="random", image_size=112))
    assert ex.meta()["precision"] == {"resnet152": "int8", "c3d": "int8", "vggish": "int8"}


def test_auto_prefers_int8_to_bf16_units_on_a_cpu(monkeypatch):
    # int8 measured faster than bf16 autocast on a CPU with bf16 units (docs/benchmarks.md, "Precision")
    from extract import backbones
    monkeypatch.setattr(backbones, "bf16_native", lambda device: True)
    cpu = torch.device("cpu")
    assert backbones.resolve_precision("auto", cpu) == "int8"
    assert backbones.resolve_precision("auto", cpu, supports_int8=False) == "bf16"
    monkeypatch.setattr(int8, "available", lambda: False)
    assert backbones.resolve_precision("auto", cpu) == "bf16"
    monkeypatch.setattr(backbones, "bf16_native", lambda device: False)
    assert backbones.resolve_precision("auto", cpu) == "fp32"


def load_cached(name, **options):
    """build_backbone that fails if the int8 cache is not used as is."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*unreadable int8 cache")
        return build_backbone(name, "random", precision="int8", **options)


def test_int8_cache_is_reused_and_a_damaged_one_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("S2VT_CACHE_DIR", str(tmp_path))
    x = torch.randint(0, 256, (3, 3, 64, 64), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    first = build_backbone("resnet152", "random", precision="int8", image_size=64)
    files = list(tmp_path.glob("resnet152-*.pt"))
    assert len(files) == 1 and first.int8_cosine >= 0.99
    again = load_cached("resnet152", image_size=64)  # built from the cache: the same network
    assert again.precision == "int8" and torch.equal(first.embed(x), again.embed(x))
    if torch.backends.quantized.engine == "onednn":  # each block's residual add runs inside its conv
        for net in (first, again):
            assert sum(isinstance(m, int8.ConvAddReLU) for m in net.modules()) == 50
    files[0].write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="unreadable int8 cache"):
        rebuilt = build_backbone("resnet152", "random", precision="int8", image_size=64)
    assert torch.equal(first.embed(x), rebuilt.embed(x))
    other_seed = build_backbone("resnet152", "random", seed=1, precision="int8", image_size=64)
    assert len(list(tmp_path.glob("resnet152-*.pt"))) == 2 and not torch.equal(first.embed(x), other_seed.embed(x))


@pytest.mark.parametrize("name, shape", [("c3d", (2, 3, 16, 112, 112)), ("vggish", (3, 1, 96, 64))])
def test_int8_cache_equals_the_calibrated_network(tmp_path, monkeypatch, name, shape):
    # C3D: Conv3d+ReLU and Linear+ReLU; VGGish: Conv2d+ReLU, Linear+ReLU and a Linear without
    monkeypatch.setenv("S2VT_CACHE_DIR", str(tmp_path))
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0)) * (50 if name == "c3d" else 3)
    first = build_backbone(name, "random", precision="int8")
    again = load_cached(name)  # rebuilt from the cached state
    assert torch.equal(first.embed(x), again.embed(x))
    assert not any(p.is_meta for p in again.parameters())


def test_int8_that_drifts_falls_back_to_fp32(tmp_path, monkeypatch):
    monkeypatch.setenv("S2VT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(int8, "MIN_COSINE", 1.01)  # no int8 network can pass this
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = build_backbone("c3d", "random", precision="int8")
    assert net.precision == "fp32" and any("using fp32" in str(w.message) for w in caught)
    assert not list(tmp_path.glob("*.pt"))  # nothing cached for a failed calibration


def test_int8_refused_on_gpu():
    with pytest.raises(ValueError, match="CPU only"):
        build_backbone("c3d", "random", precision="int8", device="meta")


def test_torch_ao_notices_are_silenced_only_while_building(tmp_path, monkeypatch):
    monkeypatch.setenv("S2VT_CACHE_DIR", str(tmp_path))
    before = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_backbone("vggish", "random", precision="int8")  # calibrates: prepare, observers, convert
        build_backbone("vggish", "random", precision="int8")  # loads the cache: torch.load of int8 tensors
        assert not [w for w in caught if any(m in str(w.message) for m in int8.TORCH_AO_NOTICES)]
        warnings.warn(int8.TORCH_AO_NOTICES[0], DeprecationWarning)  # outside a build: shown
    assert str(caught[-1].message) == int8.TORCH_AO_NOTICES[0]
    assert warnings.filters == before


def test_an_unwritable_cache_dir_is_a_warning_naming_the_variable_not_a_stop(tmp_path, monkeypatch, capsys):
    """S2VT_CACHE_DIR=/proc/nope stopped extraction with `error: cannot write /proc/nope: ...`, naming neither
    the variable nor the cache: the cache only saves the next run's calibration, so the backbone is built
    without it, with one warning (not one per backbone) saying so."""
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("S2VT_CACHE_DIR", str(tmp_path / "file" / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (as the commands build backbones: the warning is still said)
        nets = [build_backbone("vggish", "random", precision="int8") for _ in range(2)]
    assert all(net.precision == "int8" for net in nets)
    said = [line for line in capsys.readouterr().err.splitlines() if "cache" in line]
    assert len(said) == 1 and said[0].startswith(
        f"warning: $S2VT_CACHE_DIR ({tmp_path / 'file' / 'cache'}): cannot keep the int8 calibration cache there "
        f"({tmp_path / 'file'} is a file, not a folder)"), said
