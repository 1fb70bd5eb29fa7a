"""Find pretrained weight files on disk (never downloaded at run time) and load them safely."""
from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path

import torch

from s2vt.errors import SettingError, UserError, invoked_as, shell_join

# the weights folder when --weights-dir / --dir is not given: $S2VT_WEIGHTS_DIR, else checkpoints/ (the
# repository layout, relative to the current folder)
WEIGHTS_DIR_ENV = "S2VT_WEIGHTS_DIR"
DEFAULT_WEIGHTS_DIR = "checkpoints"
# --weights-dir's help in every command that has it (`search_dirs`: caption's and extract's named no torch hub cache,
# which they read as serve's does; trial 109)
WEIGHTS_DIR_HELP = (f"folder with backbone weight files (default: ${WEIGHTS_DIR_ENV}, else {DEFAULT_WEIGHTS_DIR}/; "
                    "then torch hub's cache)")


class WeightsNotFound(UserError):
    """No weight file for a backbone; the message names the file and where to get it, then its notes in brackets."""

    def __init__(self, backbone: str, said: str, notes: list[str]) -> None:
        super().__init__(said + (f" ({'; '.join(notes)})" if notes else ""))
        self.backbone, self.said, self.notes = backbone, said, notes

    def __reduce__(self):  # (an error crossing processes is rebuilt from these, not from its one-line message)
        return WeightsNotFound, (self.backbone, self.said, self.notes)


class BadWeights(UserError):
    """A weight file that holds no usable state dict (or PCA parameters); one line naming it."""


@dataclasses.dataclass(frozen=True)
class WeightSpec:
    """The file names a backbone's weights go by (the first is the one `url` serves), and where a
    user gets them: `url` (what `s2vt weights download` fetches) and an optional note."""
    what: str
    files: tuple[str, ...]
    url: str
    note: str = ""

    @property
    def source(self) -> str:
        return f"{self.url} ({self.note})" if self.note else self.url


SPECS = {
    "resnet152": WeightSpec("ResNet-152 ImageNet weights (torchvision IMAGENET1K_V1)",
                            ("resnet152-394f9c45.pth", "resnet152-f82ba261.pth"),
                            "https://download.pytorch.org/models/resnet152-394f9c45.pth"),
    "c3d": WeightSpec("C3D Sports-1M weights (PyTorch port)", ("c3d.pickle", "c3d_sports1m.pth"),
                      "http://imagelab.ing.unimore.it/files/c3d_pytorch/c3d.pickle",
                      "linked from github.com/DavideA/c3d-pytorch"),
    "vggish": WeightSpec("VGGish AudioSet weights (PyTorch port)", ("vggish-10086976.pth",),
                         "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth"),
    "vggish_pca": WeightSpec("VGGish PCA parameters", ("vggish_pca_params.npz", "vggish_pca_params-970ea276.pth"),
                             "https://storage.googleapis.com/audioset/vggish_pca_params.npz"),
}


def default_weights_dir(made: bool = False) -> str:
    """$S2VT_WEIGHTS_DIR, else checkpoints/: the folder every command's --weights-dir / --dir defaults to
    (read when a command runs, not at import). An installed s2vt runs from any folder, where a relative
    checkpoints/ is another folder each time (hostile trial): the variable names one for them all. Empty is
    unset; a file is refused in one line, as an explicit --dir naming one is. So is a folder that does not exist,
    for a lookup (`made` False): a typo read as 'every file missing; set S2VT_WEIGHTS_DIR' (hostile trial);
    `weights download` passes `made=True`, as it makes the folder its files go to."""
    value = os.environ.get(WEIGHTS_DIR_ENV, "")
    if not value.strip():
        return DEFAULT_WEIGHTS_DIR
    if os.path.exists(value) and not os.path.isdir(value):  # (a typo would read as "not downloaded")
        raise SettingError(f"{WEIGHTS_DIR_ENV}={value!r}: not a folder ({os.path.abspath(value)}): set it to the "
                           "folder that holds the weight files")
    if not made and not os.path.isdir(value):
        raise SettingError(f"{WEIGHTS_DIR_ENV}={value!r}: no such folder ({os.path.abspath(value)}): set it to the "
                           f"folder that holds the weight files, or run `{shell_join(weights_command())} download`, "
                           "which makes it")
    return value


def search_dirs(weights_dir: str | os.PathLike | None) -> list[Path]:
    """Where weight files are looked for: --weights-dir (default: `default_weights_dir`), then the torch hub
    cache; absolute, as messages show them (a relative default is the current folder's)."""
    dirs = [Path(weights_dir or default_weights_dir())]
    dirs.append(Path(torch.hub.get_dir()) / "checkpoints")
    return [Path(os.path.abspath(d)) for d in dirs]


def weights_dir_hint() -> str:
    """A 'not found' message's word on the variable (said where no folder was given: it was the default's)."""
    return f"set {WEIGHTS_DIR_ENV} to the folder that holds them"


def find_weights(name: str, weights_dir: str | os.PathLike | None = None, required: bool = True) -> Path | None:
    """Path of the first weight file of `name` found, else WeightsNotFound (or None if not required)."""
    spec = SPECS[name]
    dirs = search_dirs(weights_dir)
    for d in dirs:
        for f in spec.files:
            if (d / f).is_file():
                return d / f
    if not required:
        return None
    # (said where caption.py and serve read the weights as well as extract, so no extract option is named here:
    # extract adds its --weights random, `random_instead`; the PCA is post-processing that random weights take too)
    notes = [n for n in ("features made with --vggish-pca need it, with random weights too" if name == "vggish_pca"
                         else None, None if weights_dir else "or " + weights_dir_hint()) if n]
    raise WeightsNotFound(
        name, f"{spec.what} not found: looked for {spec.files[0]} in {', '.join(str(d) for d in dirs)}; "
        f"run `{shell_join([*weights_command(), 'download', name, '--dir', str(dirs[0])])}` or download it from "
        f"{spec.source} into {dirs[0]}/",
        notes)


def random_instead(error: WeightsNotFound) -> WeightsNotFound:
    """extract's refusal of a missing weight file: `error` with its way round, seeded random weights (extract alone
    has --weights: caption.py and serve run the backbones their checkpoint records, and were told to pass it; trial
    106). Not for the PCA, which random weights need too."""
    if error.backbone == "vggish_pca":
        return error
    return WeightsNotFound(error.backbone, error.said,
                           [*error.notes, "or pass --weights random for seeded random weights"])


def not_a_pickle(path: Path) -> str | None:
    """Why a file torch.load refused is no PyTorch file at all, from its first bytes, or None when it starts
    as one does (a torch zip, PK..., or a pickle of protocol 2 or later, as torch.save writes)."""
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError:
        return None
    if head.startswith((b"PK\x03\x04", b"\x80")):
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "neither a torch zip nor a pickle"
    if text.lstrip().startswith("<"):
        return "neither a torch zip nor a pickle: it reads as HTML or XML text (a web page saved instead?)"
    return "neither a torch zip nor a pickle: it reads as text"


def weights_command() -> list[str]:
    """How to start `s2vt weights` as this program was started (`python -m s2vt.cli weights`); `s2vt weights`
    from a program without that command (`caption.py`)."""
    words = invoked_as("weights")
    return words if words[-1] == "weights" else ["s2vt", "weights"]


def load_weights_file(path: Path):
    """torch.load(weights_only=True) of a weight file (no code execution); BadWeights, one line, for a
    file it cannot load. torch's own message runs to several lines and advises weights_only=False,
    which runs whatever code the file holds: only its cause is kept."""
    if path.stat().st_size == 0:  # (torch's own word for it is a bare EOFError)
        raise BadWeights(f"{path}: empty file, not a PyTorch weights file")
    try:
        with warnings.catch_warnings():  # (a foreign pickle's protocol warning: noise before the error)
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except OSError:  # (unreadable: its own message)
        raise
    except Exception as e:  # noqa: BLE001 - an unpickling, zip or EOF error: not a weights file
        if (plain := not_a_pickle(path)) is not None:  # (torch's word for a text file: `KeyError: 101`)
            raise BadWeights(f"{path}: not a PyTorch weights file ({plain})") from None
        text = str(e)
        # the cause follows "WeightsUnpickler error:", after the advice (torch >= 2.4)
        cause = text.split("WeightsUnpickler error:", 1)[1] if "WeightsUnpickler error:" in text else text
        first = next((line.strip() for line in cause.splitlines() if line.strip()), "")
        first = first.split(". ")[0].rstrip(".")  # (a second sentence is advice too: add_safe_globals)
        raise BadWeights(f"{path}: not a PyTorch weights file (torch.load with weights_only=True failed: "
                         f"{type(e).__name__}{': ' + first[:200] if first else ''})") from None


def load_state_dict(path: Path) -> dict:
    """A state dict from a .pth/.pickle file, loaded with weights_only=True (no code execution)."""
    state = load_weights_file(path)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):  # (names, as torch saves them)
        raise BadWeights(f"{path}: not a PyTorch state dict (a mapping of layer names to tensors)")
    return {k.removeprefix("module."): v for k, v in state.items()}


def few(keys: list[str], shown: int = 3) -> str:
    """A few key names, then how many in all (a wrong file lacks hundreds: one line stays short)."""
    return ", ".join(keys[:shown]) + (f", ... {len(keys)} in all" if len(keys) > shown else "")


def load_strict(net: torch.nn.Module, state: dict, path, what: str, assign: bool = False) -> None:
    """`net.load_state_dict(state, strict=True)`, but a file of other keys or shapes (a torch file of
    some other network) is BadWeights in one line naming it: torch's own error lists every key (kilobytes)."""
    expected = net.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state
             and (not torch.is_tensor(state[k]) or state[k].shape != expected[k].shape)]
    if missing or unexpected or wrong:
        shape = lambda t: list(t.shape) if torch.is_tensor(t) else type(t).__name__  # noqa: E731
        parts = [f"missing keys: {few(missing)}"] if missing else []
        parts += [f"unexpected: {few(unexpected)}"] if unexpected else []
        parts += [f"{wrong[0]} is {shape(state[wrong[0]])}, not {list(expected[wrong[0]].shape)}"
                  + (f"; {len(wrong)} of wrong shape" if len(wrong) > 1 else "")] if wrong else []
        raise BadWeights(f"{path}: not {what} weights ({'; '.join(parts)})")
    if bad := nonfinite([(k, state[k]) for k in expected]):
        raise BadWeights(f"{path}: not usable {what} weights ({bad[0]} holds NaN or infinite values"
                         + (f"; {len(bad)} tensors do" if len(bad) > 1 else "") + ")")
    net.load_state_dict(state, strict=True, assign=assign)


def nonfinite(tensors: list[tuple[str, torch.Tensor]]) -> list[str]:
    """Names of the floating tensors holding a NaN or inf: such a file loads, and every feature is NaN.
    A sum is the test (NaN and inf carry through it): about 0.02 s on ResNet-152's 60M values on one
    core, where isfinite().all() takes about 0.17 s; a non-finite sum of finite values (an fp16
    overflow) is confirmed by isfinite before the tensor is named."""
    return [k for k, t in tensors if t.is_floating_point() and not bool(t.sum().isfinite())
            and not bool(torch.isfinite(t).all())]
