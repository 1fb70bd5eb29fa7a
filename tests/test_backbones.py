"""Backbones: real architectures, seeded random weights, weight files in the public ports' layouts."""

import numpy as np
import pytest
import torch

from extract.backbones import build_backbone
from extract.backbones.c3d import C3D, C3DNet
from extract.backbones.vggish import VGGishNet
from extract.backbones.weights import WeightsNotFound



def pinned_inputs():
    g = torch.Generator().manual_seed(123)
    img = torch.randint(0, 256, (2, 3, 64, 64), generator=g, dtype=torch.uint8)
    clip = torch.rand(1, 3, 16, 112, 112, generator=g) * 200 - 100
    mel = torch.rand(1, 1, 96, 64, generator=g) * 8 - 6
    return {"resnet152": img, "c3d": clip, "vggish": mel}


# reference values of seeded random weights (seed 0) on the inputs above: sum and first values
PINNED = {
    "resnet152": (197.8316, [0.0653218, 0.1239742, 0.0018244, 0.0]),
    "c3d": (447400.0, [0.0, 39.830223, 211.38683, 0.0]),
    "vggish": (32.057564, [2.8239584, -1.9913455, -14.3085003, 8.6481371]),
}


@pytest.fixture(scope="module")
def nets():
    return {name: build_backbone(name, "random", seed=0, precision="fp32",
                                 **({"image_size": 64} if name == "resnet152" else {}))
            for name in PINNED}


@pytest.mark.parametrize("name", list(PINNED))
def test_reference_values(nets, name):
    y = nets[name].embed(pinned_inputs()[name])
    total, first = PINNED[name]
    assert y.shape[1] == nets[name].dim
    assert y.sum().item() == pytest.approx(total, rel=2e-3)
    assert y[0, :4].tolist() == pytest.approx(first, rel=2e-3, abs=1e-3)


def test_random_weights_are_seeded_and_announced():
    with pytest.warns(UserWarning, match="SEEDED RANDOM"):
        a = build_backbone("vggish", "random", seed=1, precision="fp32")
    b = build_backbone("vggish", "random", seed=1, precision="fp32")
    c = build_backbone("vggish", "random", seed=2, precision="fp32")
    assert torch.equal(a.net.embeddings[0].weight, b.net.embeddings[0].weight)
    assert not torch.equal(a.net.embeddings[0].weight, c.net.embeddings[0].weight)
    assert a.weight_id == "random(seed=1)"


def test_random_resnet_separates_colours(nets):
    net = nets["resnet152"]
    colours = torch.tensor([[255, 0, 0], [0, 255, 0], [0, 0, 255]], dtype=torch.uint8)
    imgs = colours[:, :, None, None].expand(3, 3, 64, 64).contiguous()
    f = net.embed(imgs)
    assert torch.isfinite(f).all() and 0.1 < f.norm(dim=1).min() and f.norm(dim=1).max() < 100
    cos = torch.nn.functional.cosine_similarity(f[:, None], f[None, :], dim=-1)
    assert cos[~torch.eye(3, dtype=bool)].max() < 0.999  # not the exploded, all-alike features


def test_resnet_matches_torchvision():
    import torchvision
    from extract.backbones.resnet import ResNet152Net
    tv = torchvision.models.resnet152(weights=None).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics, so a mis-wired bn shows
        for m in tv.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1), m.running_var.uniform_(0.5, 2), m.weight.uniform_(0.1, 0.5)
    ours = ResNet152Net().eval()
    ours.load_state_dict({k: v for k, v in tv.state_dict().items() if not k.startswith("fc.")}, strict=True)
    tv.fc = torch.nn.Identity()
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(ours(x), tv(x), rtol=1e-5, atol=1e-6)


def test_bf16_features_stay_faithful():
    net = build_backbone("resnet152", "random", seed=0, precision="fp32")
    x = torch.randint(0, 256, (2, 3, 224, 224), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    fp32 = net.embed(x)
    net.precision = "bf16"
    bf16 = net.embed(x)
    cos = torch.nn.functional.cosine_similarity(fp32, bf16, dim=1)
    assert cos.min() >= 0.99


def port_c3d_state() -> dict:
    """A state dict with the keys and shapes of the public Sports-1M port's c3d.pickle."""
    shapes = {"conv1": (64, 3), "conv2": (128, 64), "conv3a": (256, 128), "conv3b": (256, 256),
              "conv4a": (512, 256), "conv4b": (512, 512), "conv5a": (512, 512), "conv5b": (512, 512)}
    g = torch.Generator().manual_seed(0)
    state = {}
    for k, (o, i) in shapes.items():
        state[f"{k}.weight"] = torch.randn(o, i, 3, 3, 3, generator=g) * 0.01
        state[f"{k}.bias"] = torch.zeros(o)
    for k, (o, i) in {"fc6": (4096, 8192), "fc7": (4096, 4096), "fc8": (487, 4096)}.items():
        state[f"{k}.weight"] = torch.randn(o, i, generator=g) * 0.01
        state[f"{k}.bias"] = torch.zeros(o)
    return state


def test_c3d_loads_sports1m_port_layout(tmp_path):
    state = port_c3d_state()
    torch.save(state, tmp_path / "c3d.pickle")
    net = build_backbone("c3d", "pretrained", weights_dir=tmp_path, precision="fp32")
    assert net.weight_id == "c3d.pickle"
    assert torch.equal(net.net.fc6.weight, state["fc6.weight"])
    assert set(C3DNet().state_dict()) == set(state)  # strict: same keys, nothing extra
    clips = np.random.default_rng(0).integers(0, 256, (2, 16, 128, 171, 3), dtype=np.uint8)
    out = net.embed(net.inputs(clips))
    assert out.shape == (2, 4096) and out.min() >= 0  # fc6 after ReLU


def test_c3d_inputs_are_bgr_mean_subtracted():
    net = C3D()
    clips = np.zeros((1, 16, 128, 171, 3), np.uint8)
    clips[..., 0] = 200  # pure red in RGB
    x = net.inputs(clips)
    assert x.shape == (1, 3, 16, 112, 112)
    assert x[0, 2].mean().item() == pytest.approx(200 - 101.41, abs=0.01)  # R is last (BGR)
    assert x[0, 0].mean().item() == pytest.approx(-90.25, abs=0.01)


def test_vggish_port_keys_and_pca(tmp_path):
    keys = set(VGGishNet().state_dict())
    assert {"features.0.weight", "features.3.weight", "features.6.weight", "features.8.weight",
            "features.11.weight", "features.13.weight", "embeddings.0.weight", "embeddings.2.weight",
            "embeddings.4.weight"} <= keys
    net = build_backbone("vggish", "random", seed=0, precision="fp32")
    torch.save(net.net.state_dict(), tmp_path / "vggish-10086976.pth")
    rng = np.random.default_rng(0)
    vecs = np.linalg.qr(rng.standard_normal((128, 128)))[0].astype(np.float32)
    means = rng.standard_normal(128).astype(np.float32)
    np.savez(tmp_path / "vggish_pca_params.npz", pca_eigen_vectors=vecs, pca_means=means)
    loaded = build_backbone("vggish", "pretrained", weights_dir=tmp_path, pca=True, precision="fp32")
    x = torch.from_numpy(rng.standard_normal((3, 1, 96, 64)).astype(np.float32))
    raw = net.embed(x)
    assert (raw < 0).any()  # no ReLU after the final 128-d layer
    post = loaded.embed(x)
    expected = np.clip((raw.numpy() - means) @ vecs.T, -2, 2)
    expected = np.round((expected + 2) * 255 / 4)
    assert np.allclose(post.numpy(), expected, atol=1.0)
    assert post.min() >= 0 and post.max() <= 255


def test_missing_weights_error_names_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    for name, fname in [("resnet152", "resnet152-394f9c45.pth"), ("c3d", "c3d.pickle"),
                        ("vggish", "vggish-10086976.pth")]:
        with pytest.raises(WeightsNotFound) as e:
            build_backbone(name, "pretrained", weights_dir=tmp_path)
        msg = str(e.value)
        assert fname in msg and str(tmp_path) in msg and "--weights random" in msg and "\n" not in msg


def test_inputs_stay_on_the_cpu_wherever_the_network_runs():
    """`inputs` runs in the decode threads on CPU tensors; on a GPU the C3D mean once followed
    the network there and every clip failed with 'found at least two devices'."""
    import numpy as np
    from extract.backbones.c3d import C3D
    net = C3D().to("meta")  # stands in for a device other than the CPU
    x = net.inputs(np.zeros((1, 16, 128, 171, 3), np.uint8))
    assert x.device.type == "cpu" and x.shape == (1, 3, 16, 112, 112)
