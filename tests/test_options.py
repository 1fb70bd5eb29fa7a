"""Command-line options generated from the settings dataclasses (s2vt/options.py)."""
import argparse
import dataclasses

import pytest

from extract.__main__ import main as extract_main
from s2vt.errors import SettingError
from s2vt.options import GIVEN, add_options, check_choices, from_args, setting, settings
from s2vt.options import given as given_settings
from extract.pipeline import ExtractConfig
from s2vt.cli import add_train_arguments, main
from s2vt.config import TrainConfig
from .conftest import run_cli


@dataclasses.dataclass
class Toy:
    path: str = setting(help="required: no default")
    store: str | None = setting(help="may be left out")
    names: list[str] | None = setting(None, "comma-separated")
    size: int = setting(3, "a size, 100% of it")
    mode: str | None = setting(None, "a mode", ("fast", "slow"))
    wide: bool = setting(True, "a switch")
    hidden: int | None = setting(None, help=None)

    def __post_init__(self):
        check_choices(self)


def parse(cls, argv):
    p = argparse.ArgumentParser()
    add_options(p, cls)
    return p, p.parse_args(argv)


def test_options_follow_the_fields():
    p, args = parse(Toy, ["--path", "p", "--names", "a, b,", "--size", "5", "--no-wide"])
    assert from_args(Toy, args) == Toy("p", None, ["a", "b"], 5, None, False, None)
    assert from_args(Toy, parse(Toy, ["--path", "p", "--mode", "slow"])[1]).mode == "slow"
    with pytest.raises(SystemExit):  # --path has no default: required
        p.parse_args([])
    text = p.format_help()
    assert "100% of it" in text and "{fast,slow}" in text and "--no-wide" in text and "--hidden" not in text
    with pytest.raises(SettingError, match=r"^--mode must be fast or slow, not 'quick'$"):
        from_args(Toy, parse(Toy, ["--path", "p", "--mode", "quick"])[1])


def test_train_options_are_the_config_fields_and_old_flags_still_work():
    p = argparse.ArgumentParser()
    add_train_arguments(p)
    args = p.parse_args(["--manifest", "m", "--out", "o"])
    fields = {f.name: f.default for f, _ in settings(TrainConfig)}  # the model's architecture among them
    assert given_settings(args) == ("manifest", "out")  # (what a --resume takes as this command's, the rest the run's)
    assert {k: v for k, v in vars(args).items() if k != GIVEN} == {**fields, "manifest": "m", "features": None,
                                                                   "out": "o"}  # one option a field
    assert given_settings(p.parse_args(["--out", "o", "--one-caption-per-video", "--no-context", "--patience", "3"])) == (
        "context", "out", "patience", "per_caption")
    cfg = from_args(TrainConfig, p.parse_args(
        ["--manifest", "m", "--features", "f", "--out", "o", "--one-caption-per-video", "--no-context",
         "--no-attention", "--no-text", "--no-text-wide", "--no-text-linear", "--log-features", "--resume", "--skip-missing",
         "--modalities", "c3d,vggish", "--tag-head", "moe", "--lr", "0.01"]))
    assert (cfg.per_caption, cfg.model.context, cfg.model.attention, cfg.text, cfg.model.text_wide,
            cfg.model.text_linear, cfg.model.log_features, cfg.resume,
            cfg.skip_missing) == (False, False, False, False, False, False, True, True, True)
    assert cfg.modalities == ["c3d", "vggish"] and cfg.model.tag_head == "moe" and cfg.lr == 0.01


def test_caption_evaluate_and_serve_pick_the_device_as_train_does():
    import torch

    from s2vt.cli import COMMANDS
    from s2vt.device import pick_device

    train = argparse.ArgumentParser()
    add_train_arguments(train)
    assert train.get_default("device") == "auto"
    for name in ("caption", "evaluate", "serve"):  # (caption.py is `s2vt caption`'s parser)
        p = argparse.ArgumentParser()
        COMMANDS[name][1](p)
        assert p.get_default("device") == train.get_default("device"), name
        # the README's promise: a CUDA GPU when present, else the CPU
        assert pick_device(p.get_default("device")).type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_auto_captions_int8_features_on_the_cpu_even_with_a_gpu(monkeypatch):
    """A model of int8 features (the CPU default) under --device auto on a GPU machine: the CPU, the
    one device that reproduces them, not a refusal; a GPU named is kept (Captioner refuses it in one line)."""
    import torch

    from s2vt.captioner import captioning_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # (a GPU machine, as pick_device sees it)
    assert captioning_device("auto", int8=True) == torch.device("cpu")
    assert captioning_device("auto", int8=False).type == "cuda"
    assert captioning_device("cpu", int8=False) == torch.device("cpu")


@pytest.mark.parametrize("flag, value, allowed", [("--tag-head", "nonsense", "mlp, moe, nextvlad or attention"),
                                                  ("--text-fusion", "x", "late or guided"),
                                                  ("--fusion", "mean", "concat, sum or gated")])
def test_a_bad_choice_is_one_line(flag, value, allowed, tmp_path, capsys):
    code = main(["train", "--manifest", "m", "--out", str(tmp_path / "run"), flag, value])
    err = capsys.readouterr().err
    assert code == 2 and err == f"error: {flag} must be {allowed}, not {value!r}\n"
    assert not (tmp_path / "run").exists()


def test_extract_options_are_the_config_fields(tmp_path, capsys):
    p = argparse.ArgumentParser()
    add_options(p, ExtractConfig, skip=("device",))
    args = p.parse_args(["--modalities", "c3d", "--vggish-pca", "--precision", "fp32"])
    cfg = from_args(ExtractConfig, args)
    assert cfg == ExtractConfig(modalities=("c3d",), vggish_pca=True, precision="fp32")
    assert extract_main([str(tmp_path), "--out", str(tmp_path / "s"), "--precision", "fp64"]) == 2
    assert capsys.readouterr().err == "error: --precision must be auto, fp32, bf16 or int8, not 'fp64'\n"
    with pytest.raises(SettingError, match="--precision must be"):  # a checkpoint's per-modality record too
        ExtractConfig(modalities=("c3d",), precision={"c3d": "fp16"})


def test_modalities_not_extracted_by_the_toolkit_are_named_in_number():
    """'modalities cnn were not extracted' for one modality."""
    meta = {"backbones": {"cnn": "precomputed", "tsn": "precomputed", "c3d": "c3d-random"}}
    with pytest.raises(SettingError) as one:
        ExtractConfig.from_meta(meta, ["cnn", "c3d"])
    assert str(one.value).startswith("modality cnn was not extracted from video by this toolkit, so it cannot be "
                                     "computed for a new video")
    with pytest.raises(SettingError) as two:
        ExtractConfig.from_meta(meta, ["cnn", "tsn"])
    assert str(two.value).startswith("modalities cnn, tsn were not extracted from video by this toolkit, so they "
                                     "cannot be computed for a new video")


def test_what_extract_computes_is_decided_by_one_rule():
    """Training's advice (extract or import), caption.py's refusal and its advice for models of imported features
    ask one predicate: a modality of this toolkit's whose backbone is not recorded as precomputed."""
    from extract.modalities import extractable

    backbones = {"resnet152": "precomputed", "c3d": "c3d-random", "rgb": "yt8m-inception-v3-pca"}
    assert [m for m in ("resnet152", "c3d", "vggish", "rgb", "cnn") if extractable(m, backbones)] == ["c3d", "vggish"]
    with pytest.raises(SettingError, match="modality resnet152 was not extracted from video"):
        ExtractConfig.from_meta({"backbones": backbones}, ["resnet152", "c3d"])


def test_a_checkpoint_of_a_store_without_meta_json_says_so():
    """A model trained on a store whose meta.json was removed (the advice for one that cannot be read) was refused
    by caption.py as 'modalities resnet152, vggish were not extracted from video by this toolkit', which was not so:
    it says what the checkpoint lacks."""
    with pytest.raises(SettingError) as e:
        ExtractConfig.from_meta({}, ["resnet152", "vggish"])
    assert str(e.value) == ("the checkpoint records no extraction settings (the feature store it was trained on had "
                            "no meta.json, which records how its features were extracted), so they cannot be computed "
                            "for a new video")


def test_per_video_with_one_caption_per_video_is_one_line(tmp_path, capsys):
    """`--per-video 4 --one-caption-per-video` was accepted, and --per-video silently did nothing."""
    (tmp_path / "store").mkdir()
    argv = ["train", "--manifest", str(tmp_path / "m.jsonl"), "--features", str(tmp_path / "store"), "--out",
            str(tmp_path / "r")]
    for given in (["--per-video", "4", "--one-caption-per-video"], ["--no-per-caption", "--per-video", "2"]):
        assert main(argv + given) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: --per-video {given[given.index('--per-video') + 1]} groups captions of one "
                              "video, and ") and err.count("\n") == 1, err
    assert TrainConfig.of(str(tmp_path / "m.jsonl"), str(tmp_path / "store"), str(tmp_path / "r"),
                          per_caption=False).per_video == 1  # (the default alone: nothing to refuse)


def test_setting_minimum_is_checked_in_one_place():
    import dataclasses as dc

    from s2vt.errors import SettingError
    from s2vt.options import check_choices, setting

    @dc.dataclass
    class Opts:
        workers: int = setting(4, "threads", minimum=0)
        limit: int | None = setting(None, "cap", minimum=1)
        rate: float = setting(0.5, "a fraction", within="[0, 1)")
        scale: float = setting(1.0, "a finite positive number", within="(0, inf)")

        def __post_init__(self):
            check_choices(self)

    assert Opts(0).workers == 0 and Opts(limit=None).limit is None
    assert Opts(rate=0.0).rate == 0.0 and Opts(scale=1e30).scale == 1e30
    for kwargs, message in (({"workers": -2}, "--workers must be at least 0, not -2"),
                            ({"limit": 0}, "--limit must be at least 1, not 0"),
                            ({"rate": 1.0}, "--rate must be in [0, 1), not 1.0"),
                            ({"rate": float("nan")}, "--rate must be in [0, 1), not nan"),
                            ({"scale": 0.0}, "--scale must be in (0, inf), not 0.0"),
                            ({"scale": float("inf")}, "--scale must be in (0, inf), not inf")):
        with pytest.raises(SettingError) as e:
            Opts(**kwargs)
        assert str(e.value) == message
    with pytest.raises(ValueError):  # a malformed interval fails where it is declared
        setting(0.0, "x", within="0..1")


def test_a_command_builds_only_its_own_options_and_torch_waits_for_one_that_needs_it():
    """`s2vt --help` and `s2vt import ...` built every command's options, extract's among them, whose
    default --device imports torch: seconds before anything, and Ctrl-C there was a traceback."""
    code = ("import sys\nfrom s2vt.cli import main\n"
            "for argv in (['--help'], ['import', 'mlds', '--help'], ['score', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit as e:\n        assert e.code == 0, argv\n"
            "print('torch' in sys.modules)\n"
            "try:\n    main(['extract', '--help'])\nexcept SystemExit:\n    pass\n")
    proc = run_cli("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert "--weights" in proc.stdout and "shard" in proc.stdout  # extract's own options, when it is run
    assert proc.stdout.split("usage: s2vt extract")[0].rstrip().endswith("False")


def test_models_built_for_loaded_weights_draw_nothing_and_import_no_compiler():
    """Modules built for weights loaded next (checkpoints, backbones) are shapes only: no draw from
    torch's global generator (seeded random backbones build meanwhile in other threads), and no
    `normal_` on meta tensors, whose first call imports torch._dynamo and sympy (seconds of a cold
    caption.py). A fresh interpreter, as the import is once per process."""
    code = """
import sys, torch
from s2vt.device import on_meta
from extract.backbones import empty_module
state = torch.get_rng_state()
with on_meta():
    e = torch.nn.Embedding(10, 4)
    c = torch.nn.Conv2d(3, 4, 3)
    torch.nn.init.kaiming_normal_(c.weight)
    torch.nn.init.normal_(tensor=e.weight)
    with torch.no_grad():
        c.weight.normal_(0, 1)
z = empty_module(lambda: torch.nn.Sequential(torch.nn.Embedding(5, 3), torch.nn.LSTM(3, 4)))
assert e.weight.is_meta and c.weight.is_meta and not z[0].weight.is_meta and float(z[0].weight.abs().sum()) == 0
assert torch.equal(torch.get_rng_state(), state)
print(sorted(m for m in ("torch._dynamo", "sympy") if m in sys.modules))
"""
    proc = run_cli("-c", code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


def test_bare_s2vt_prints_its_help_and_succeeds(capsys):
    """Bare `s2vt` printed the help and exited 2, as if asking what it does were a mistake; a command
    missing its own required argument is still one line and exit 2."""
    assert main([]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("usage: s2vt") and "export" in out.out and "score" in out.out and out.err == ""
    with pytest.raises(SystemExit) as e:  # (argparse's exit, through the project's one-line Parser.error)
        main(["weights"])
    assert e.value.code == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.count("\n") == 1 and "required: ACTION" in out.err, out.err


def test_an_option_is_not_taken_abbreviated(tmp_path, capsys):
    """`train.py --hid 0` was taken as --hidden (argparse's abbreviations), and its refusal then named --hidden, an
    option never typed (hostile trial); a later option could also turn a once-unique prefix ambiguous. Options
    are written whole: a prefix is refused, naming it as typed and what it could be."""
    code = main(["train", "--manifest", "m", "--out", str(tmp_path / "run"), "--hid", "0"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: unrecognized arguments: --hid 0; write an option whole: --hid could "
                                        "be --hidden (see "), err
    assert not (tmp_path / "run").exists()
    with pytest.raises(SystemExit) as e:  # (argparse's refusal, in python -m extract's parser)
        extract_main([str(tmp_path), "--out", str(tmp_path / "s"), "--batch=4"])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err.startswith("error: unrecognized arguments: --batch=4; write an option whole: --batch could be "
                          "--batch-size or --batch-videos (see "), err
    assert not (tmp_path / "s").exists()



CAPTION_WEIGHTS = ("no --weights here: {} computes features with the backbones its checkpoint records (pretrained or "
                   "random, as its training features were extracted); --weights is extract's option")
STORE_WEIGHTS = ("no --weights here: {} reads the store's features, extracted with the backbones extract's --weights "
                 "chose")


def refusal(words: list[str], capsys) -> tuple[int, str]:
    """`s2vt WORDS`'s exit code and stderr, whether main returns or argparse exits (a required argument missing:
    its refusal, through Parser.error)."""
    try:
        code = main(words)
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("words, why", [
    (["caption", "v.mp4", "--checkpoint", "c.pt", "--weights", "random"], CAPTION_WEIGHTS.format("caption")),
    (["serve", "--weights=random"], CAPTION_WEIGHTS.format("serve")),
    (["evaluate", "--checkpoint", "c", "--manifest", "m", "--weights", "random"], STORE_WEIGHTS.format("evaluate")),
    (["evaluate", "--weights", "random"], STORE_WEIGHTS.format("evaluate")),  # (beside its missing --checkpoint)
    (["train", "--out", "r", "--weights", "random"], STORE_WEIGHTS.format("train")),
])
def test_weights_on_a_command_without_it_says_why(words, why, tmp_path, capsys, monkeypatch):
    """`caption.py V --checkpoint C --weights random` was told "write an option whole: --weights could be
    --weights-dir", an option that does nothing of the kind (hostile trial): the line says why the command has
    no --weights."""
    monkeypatch.chdir(tmp_path)
    code, err = refusal(words, capsys)
    assert code == 2 and err.count("\n") == 1 and f"; {why}" in err and "could be" not in err, err
    assert list(tmp_path.iterdir()) == []


def test_caption_weights_hint_says_the_checkpoint_records_the_backbones(tmp_path, capsys, monkeypatch):
    """caption's (and serve's) refusal of --weights said the backbones came from "(its store's meta.json)", a store
    caption never reads (hostile trial): the checkpoint records them (its copy of the training store's settings,
    which Captioner reads), and the line now says so."""
    monkeypatch.chdir(tmp_path)
    for words in (["caption", "v.mp4", "--checkpoint", "c.pt", "--weights", "random"], ["serve", "--weights=random"]):
        code, err = refusal(words, capsys)
        assert code == 2 and "the backbones its checkpoint records (pretrained or random" in err, err
        assert "store's meta.json" not in err, err

@pytest.mark.parametrize("words", [
    ["import", "mlds", "DIR", "--out", "X", "--vid", "x"],  # (--videos: other formats' option, refused by mlds)
    ["import", "msvd", "x", "--out", "Y", "--capt"],  # (--captions, --captions-only: neither is msvd's)
    ["import", "--vid"],  # (import itself takes no --videos: some of its formats do)
])
def test_the_abbreviation_hint_names_only_the_commands_own_options(words, tmp_path, capsys, monkeypatch):
    """`s2vt import mlds DIR --out X --vid x` was told "--vid could be --videos", an option of other importers that
    mlds refuses, and `import msvd x --out Y --capt` "--captions or --captions-only", neither of them msvd's (the
    hint searched every command's options; hostile trial): the hint names only options of the command given."""
    monkeypatch.chdir(tmp_path)
    code, err = refusal(words, capsys)
    assert code == 2 and err.count("\n") == 1 and "could be" not in err, err
    assert list(tmp_path.iterdir()) == []
    # a prefix of the command's own option is still completed: mlds's --captions-only, not features' --captions
    assert main(["import", "mlds", "DIR", "--out", "X", "--capt"]) == 2
    assert "; write an option whole: --capt could be --captions-only (see " in capsys.readouterr().err


@pytest.mark.parametrize("words, told", [
    (["train", "--help-me"], "unrecognized arguments: --help-me; the following arguments are required: --out"),
    (["train", "--hid", "3"], "unrecognized arguments: --hid; write an option whole: --hid could be --hidden; "
                              "the following arguments are required: --out"),
    (["import", "mlds", "DIR", "--ou", "m.jsonl"], "unrecognized arguments: --ou; write an option whole: --ou could be "
                                                   "--out; the following arguments are required: --out"),
])
def test_an_unknown_option_is_said_beside_a_missing_required_one(words, told, tmp_path, capsys, monkeypatch):
    """`python train.py --help-me` said only "the following arguments are required: --out", never naming the
    unknown --help-me (argparse checks the required ones before it reports what it did not know; hostile trial):
    the unknown option is said first, with its hint, then the missing one, on one line."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(words)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith(f"error: {told} (see "), err
    assert err.count("\n") == 1 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("extra", [[], ["--hid", "3"]])
def test_a_negative_value_is_told_to_be_joined_to_its_option(extra, tmp_path, capsys, monkeypatch):
    """`train.py --out x --lr -1e-3` said only "argument --lr: expected one argument" (argparse reads -1e-3 as an
    option), and with `--hid 3` also given the hint after it was about --hid, not the error it followed (hostile
    trial): the hint is now how to give the negative value, `--lr=-1e-3`, and only that."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(["train", "--out", "x", "--lr", "-1e-3", *extra])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith("error: argument --lr: expected one argument; write --lr=-1e-3 (a "
                                                "value starting with - reads as an option) (see "), err
    assert "--hid" not in err and err.count("\n") == 1 and list(tmp_path.iterdir()) == []
    # a word that is not a number is no value to join: no hint
    with pytest.raises(SystemExit):
        main(["train", "--out", "x", "--lr", "--hidden", "3"])
    assert capsys.readouterr().err.startswith("error: argument --lr: expected one argument (see ")


def test_an_option_before_the_import_format_is_told_the_format_comes_first(tmp_path, capsys, monkeypatch):
    """`s2vt import --out m.jsonl msvd corpus.csv` said only "argument FORMAT: invalid choice: 'm.jsonl'" (hostile
    trial): --out, an option of msvd's, came before the format. Now the line says the format comes first, and the
    command in that order."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(["import", "--out", "m.jsonl", "msvd", "corpus.csv"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith(
        "error: argument FORMAT: invalid choice: 'm.jsonl' (choose from 'msvd', 'msrvtt', 'lic2022', 'folder', 'yt8m', "
        "'mlds', 'features'); the format comes first, before its options: s2vt import msvd corpus.csv --out m.jsonl "
        "(see "), err
    assert err.count("\n") == 1 and list(tmp_path.iterdir()) == []
    with pytest.raises(SystemExit):  # (no format named after it: nothing to put first)
        main(["import", "--out", "m.jsonl", "msvdd"])
    assert "comes first" not in capsys.readouterr().err


def help_of(argv, capsys) -> str:
    """`s2vt ARGV --help`'s output, its words joined by single spaces (argparse wraps and pads its columns)."""
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--help"])
    assert stop.value.code == 0
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("argv, shown", [
    (["extract"], ["frames sampled uniformly per video (default: 40)", "(0-based) (default: 0/1)",
                   "auto (a CUDA GPU when there is one, else the CPU), cpu, cuda or cuda:N (default: auto)",
                   "(default: the CPU count, at most 4)",
                   "official VGGish PCA post-processing (default: off)"]),
    (["train"], ["without improvement before stopping (default: 3)", "(default: cosine)", "--seed SEED (default: 0)",
                 'passes over every (video, caption) pair (default: the recipe for the data, docs/usage.md "Training")',
                 "(--no-context: zeros, the original S2VT) (default: on)"]),
    (["caption"], ["how many top tags to show (default: 3)", "beam width (1 = greedy) (default: 5)",
                   "(default: 0.2)", "(default: auto)"]),
    (["evaluate"], ["videos decoded together (default: 64)", "the manifest's videos to predict and score (default: "
                    "test)", "beam width (1 = greedy) (default: 5)"]),
    (["demo"], ["output folder (default: s2vt-demo)", "videos per colour x motion x sound combination (default: 2)"]),
    (["weights", "list"], ["(default: $S2VT_WEIGHTS_DIR, else checkpoints/; then torch hub's cache)"]),
])
def test_every_commands_help_shows_its_defaults(argv, shown, capsys):
    """Only `s2vt serve --help` showed its defaults; extract's, train's, caption's, evaluate's, demo's and weights'
    showed none (hostile trial). A recipe's setting names where its numbers are written (docs/usage.md, not the
    README, which has none)."""
    text = help_of(argv, capsys)
    for line in shown:
        assert line in text, (argv, line)
