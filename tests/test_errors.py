"""The commands turn a user's mistake (a UserError) into one line and exit 2, and nothing else:
a bug's ValueError keeps its traceback."""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from extract.__main__ import main as extract_main
from s2vt import cli
from s2vt.synthetic import make_store

from .conftest import REPO, run_cli


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


def test_a_bug_is_not_reported_as_bad_input(monkeypatch):
    def bug(args):
        raise ValueError("a bug, not the user's input")
    monkeypatch.setitem(cli.COMMANDS, "score", (*cli.COMMANDS["score"][:2], bug))
    with pytest.raises(ValueError, match="a bug"):
        cli.main(["score", "refs.json", "preds.json"])


def test_settings_that_were_value_errors_are_one_line(tmp_path, capsys):
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps({"v1": "a caption"}))
    bad_id = tmp_path / "bad_id.json"
    bad_id.write_text(json.dumps({"../v1": "a caption"}))
    cases = [(["weights", "download", "nonsense"], "unknown weights nonsense"),
             (["export", str(preds), "--format", "lic2022", "--out", str(tmp_path / "o.zip")], "needs --manifest"),
             (["export", str(bad_id), "--format", "coco", "--out", str(tmp_path / "o.zip")], "invalid id '../v1'"),
             (["caption", "v.mp4", "--checkpoint", "x.pt", "--beam", "0"], "--beam must be at least 1"),
             (["serve", "--checkpoint", "x.pt", "--workers", "0"], "--workers must be at least 1")]
    for argv, message in cases:
        assert cli.main(argv) == 2, argv
        assert message in one_line(capsys), argv
    for argv, message in ((["--shard", "5/2"], "--shard 5/2: need 0 <= I < N"),
                          (["--frames", "0"], "--frames must be a whole number from 1 to 1000"),
                          (["--modalities", "c3d,sift"], "--modalities must be a non-empty subset")):
        assert extract_main([str(tmp_path), "--out", str(tmp_path / "store"), *argv]) == 2, argv
        assert message in one_line(capsys), argv
    # `--modalities ''` (an empty variable) is the default, every one, as train.py takes it: "got []" was said (trial
    # 121); this folder holds no video, which is what is said
    assert extract_main([str(tmp_path), "--out", str(tmp_path / "store"), "--modalities", ""]) == 2
    assert "--modalities" not in (said := one_line(capsys)) and "no video" in said, said


def test_a_tag_head_that_cannot_take_the_hidden_size_is_one_line(tmp_path, capsys):
    manifest, store = make_store(tmp_path / "d", videos=12)
    argv = ["train", "--manifest", str(manifest), "--features", str(store), "--out", str(tmp_path / "run"),
            "--tag-head", "nextvlad", "--hidden", "30", "--epochs", "1", "--quiet"]
    assert cli.main(argv) == 2
    assert "--tag-head nextvlad: 2 x --hidden 30 is not divisible into 8 groups" in one_line(capsys)


def test_a_checkpoint_that_is_no_file_is_said_to_be_what_it_is(tmp_path, capsys):
    """--checkpoint naming a pipe, /dev/zero or a dangling link said "checkpoint not found" (hostile trial), though
    s2vt names such things elsewhere: now what it is, never opened (a pipe would wait for a writer)."""
    import os

    from s2vt.checkpoint import CheckpointError, read_checkpoint

    os.mkfifo(tmp_path / "fifo.pt")
    (tmp_path / "gone.pt").symlink_to(tmp_path / "run" / "best.pt")
    (tmp_path / "loop.pt").symlink_to("loop.pt")
    for path, what in ((tmp_path / "fifo.pt", "a pipe (FIFO)"), ("/dev/zero", "a character device"),
                       (tmp_path / "gone.pt", f"a broken symbolic link (to {tmp_path / 'run' / 'best.pt'}, which "
                                              "does not exist)"),
                       (tmp_path / "loop.pt", "a symbolic link loop (to loop.pt)")):
        with pytest.raises(CheckpointError) as e:
            read_checkpoint(path)
        assert str(e.value) == f"{path}: {what}, not a checkpoint file"
    (tmp_path / "v.mp4").write_bytes(b"x")
    assert cli.main(["caption", str(tmp_path / "v.mp4"), "--checkpoint", str(tmp_path / "fifo.pt")]) == 2
    assert one_line(capsys) == f"error: {tmp_path / 'fifo.pt'}: a pipe (FIFO), not a checkpoint file\n"


def test_a_folder_where_a_file_belongs_is_named_a_folder(tmp_path, capsys, monkeypatch):
    """caption.py FOLDER and --checkpoint RUN_FOLDER: said to be folders (with best.pt as the hint
    where the folder holds one), not "no such file" / "checkpoint not found"."""
    from extract.video import MediaError, probe
    from s2vt.checkpoint import CheckpointError, read_checkpoint

    with pytest.raises(MediaError, match="a folder, not a video file"):
        probe(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(CheckpointError, match=r"a folder, not a checkpoint file$"):
        read_checkpoint(run)
    (run / "best.pt").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "v.mp4").write_bytes(b"x")  # (a video that is not there, or empty, is refused first: its own line)
    assert cli.main(["caption", "v.mp4", "--checkpoint", str(run)]) == 2
    assert f"{run}: a folder, not a checkpoint file: pass {run / 'best.pt'}" in one_line(capsys)
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        read_checkpoint(tmp_path / "nothing.pt")


def test_anti_lm_with_greedy_decoding_is_refused_only_when_asked_for(capsys):
    import argparse

    from s2vt.decode import DecodeConfig

    for command in (["caption", "v.mp4", "--checkpoint", "x.pt"], ["serve", "--checkpoint", "x.pt"]):
        assert cli.main([*command, "--beam", "1", "--anti-lm", "0.9"]) == 2
        assert "--anti-lm 0.9 acts only in beam search" in one_line(capsys)
    p = argparse.ArgumentParser()
    cli.add_decode_arguments(p)
    assert cli.decoding(p.parse_args(["--beam", "1"])) == DecodeConfig(beam=1)  # the default weight: not asked for
    assert cli.decoding(p.parse_args([])).anti_lm == DecodeConfig.anti_lm
    assert cli.decoding(p.parse_args(["--beam", "1", "--anti-lm", "0"])).anti_lm == 0.0
    assert cli.decoding(p.parse_args(["--beam", "3", "--anti-lm", "0.9"])).anti_lm == 0.9
    # (--length-penalty too: with --beam 1 it was taken and did nothing; trial 109)
    assert cli.main(["caption", "v.mp4", "--checkpoint", "x.pt", "--beam", "1", "--length-penalty", "0.7"]) == 2
    assert "--length-penalty 0.7 acts only in beam search" in one_line(capsys)
    assert cli.decoding(p.parse_args([])).length_penalty == DecodeConfig.length_penalty
    assert cli.decoding(p.parse_args(["--beam", "3", "--length-penalty", "0.7"])).length_penalty == 0.7


TINY_TRAIN = ["--epochs", "1", "--hidden", "8", "--embed", "8", "--min-count", "1", "--batch-size", "8"]


@pytest.mark.parametrize("option, args", [
    ("--out", ["train", "--manifest", "{m}", "--features", "{f}", "--out", "", *TINY_TRAIN]),
    ("--manifest", ["train", "--manifest", "", "--features", "{f}", "--out", "run", *TINY_TRAIN]),
    ("--features", ["train", "--manifest", "{m}", "--features", "", "--out", "run", *TINY_TRAIN]),
    ("--out", ["extract", "{v}", "--out", "", "--weights", "random"]),
    ("--out", ["python -m extract", "{v}", "--out", "", "--weights", "random"]),
    ("INPUT", ["python -m extract", "", "--out", "store", "--weights", "random"]),
    ("--out", ["import", "folder", "{d}", "--out", ""]),
    # (the positional by the name the command's help gives it)
    ("DIR", ["import", "mlds", "", "--out", "m.jsonl"]),
    ("FEAT_DIR", ["import", "features", "", "--captions", "{c}", "--modality", "x", "--split", "train",
                  "--out", "m.jsonl"]),
    ("SHARD", ["import", "yt8m", "{c}", "", "--out", "m.jsonl"]),
    ("FILE.json", ["import", "lic2022", "", "--out", "m.jsonl"]),
    ("--features", ["import", "features", "{d}", "--captions", "{c}", "--modality", "x", "--split", "train",
                    "--out", "m.jsonl", "--features", ""]),
    ("--out", ["evaluate", "--checkpoint", "{c}", "--manifest", "{m}", "--features", "{f}", "--out", ""]),
    ("--html", ["evaluate", "--checkpoint", "{c}", "--manifest", "{m}", "--features", "{f}", "--html", ""]),
    ("--out", ["export", "{c}", "--format", "coco", "--out", ""]),
    ("--checkpoint", ["caption", "{v}", "--checkpoint", ""]),
    ("VIDEO", ["caption", ""]),
    ("--checkpoint", ["serve", "--checkpoint", ""]),
    ("--dir", ["weights", "list", "--dir", ""]),
    ("--out", ["demo", "--out", ""]),
])
def test_an_empty_path_is_refused_before_anything_is_written(option, args, tmp_path, monkeypatch, capsys):
    """`--out "$RUN"` with RUN unset: "" is the current folder to the file system (a run or a store
    was written there, or a default checkpoint used silently)."""
    from s2vt.config import ConfigError, TrainConfig

    manifest, features = make_store(tmp_path / "data", videos=12)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.mp4").write_bytes(b"not decoded: refused before")
    (tmp_path / "c.json").write_text("{}")
    given = {"m": manifest, "f": features, "v": tmp_path / "d" / "a.mp4", "d": tmp_path / "d",
             "c": tmp_path / "c.json"}
    args = [a.format(**given) for a in args]
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    code = extract_main(args[1:]) if args[0] == "python -m extract" else cli.main(args)
    assert code == 2 and one_line(capsys) == f"error: {option} is empty (an unset shell variable?): give a path\n"
    assert list(cwd.iterdir()) == [] and sorted(p.name for p in (tmp_path / "d").iterdir()) == ["a.mp4"]
    if args[0] == "train":
        with pytest.raises(ConfigError, match=f"^{option} is empty"):
            TrainConfig.of(*(args[args.index(o) + 1] for o in ("--manifest", "--features", "--out")))


@pytest.mark.parametrize("args", [
    ["import", "folder", "{d}", "--out", "-"],
    ["import", "msvd", "{c}", "--out", "-"],
    ["import", "msrvtt", "{c}", "--out", "-"],
    ["import", "lic2022", "{c}", "--out", "-"],
    ["import", "yt8m", "{c}", "--out", "-"],
    ["import", "mlds", "{d}", "--out", "-"],
    ["import", "features", "{d}", "--captions", "{c}", "--modality", "x", "--split", "train", "--out", "-"],
    ["train", "--manifest", "{m}", "--features", "{f}", "--out", "-", *TINY_TRAIN],
    ["python -m extract", "{v}", "--out", "-", "--weights", "random"],
    ["extract", "{v}", "--out", "-", "--weights", "random"],
    ["evaluate", "--checkpoint", "{c}", "--manifest", "{m}", "--features", "{f}", "--out", "-"],
    ["export", "{c}", "--format", "coco", "--out", "-"],
])
def test_out_dash_is_refused_as_standard_output_by_every_command(args, tmp_path, monkeypatch, capsys):
    """`import folder DIR --out -` wrote a file named '-' ("wrote -: 7 videos"), and `train.py --out -` and
    `python -m extract ... --out -` made a folder '-' without a word, while a bare '-' is refused elsewhere
    (hostile trial): '-' is standard output's usual name, never written to; one line, exit 2, nothing made.
    './-' names the file or folder '-'."""
    manifest, features = make_store(tmp_path / "data", videos=12)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.mp4").write_bytes(b"not decoded: refused before")
    (tmp_path / "c.json").write_text("{}")
    given = {"m": manifest, "f": features, "v": tmp_path / "d" / "a.mp4", "d": tmp_path / "d",
             "c": tmp_path / "c.json"}
    args = [a.format(**given) for a in args]
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    code = extract_main(args[1:]) if args[0] == "python -m extract" else cli.main(args)
    assert code == 2 and one_line(capsys) == ("error: --out -: writing to standard output ('-') is not supported: "
                                              "name a path\n")
    assert list(cwd.iterdir()) == []
    if args[:2] == ["import", "folder"]:  # ('./-' is the file named '-': written, and named so)
        assert cli.main([*args[:-1], "./-"]) == 0
        said = capsys.readouterr()
        assert (cwd / "-").is_file() and "wrote ./-" in said.out + said.err
        assert cli.main([*args]) == 2  # (a file '-' there: how to name it)
        assert one_line(capsys).endswith("not supported: name a path (for a file or folder named '-', write ./-)\n")


ROOT_OUT = "error: --out {out}: that is the file system's root (an unset shell variable before the '/'?): name " \
    "another --out\n"


@pytest.mark.parametrize("args", [
    ["python -m extract", "{v}", "--out", "/", "--weights", "random"],
    ["extract", "{v}", "--out", "/", "--weights", "random"],
    ["python -m extract", "{v}", "--out", "//.", "--weights", "random"],
    ["python -m extract", "{v}", "--out", "{root}", "--weights", "random"],  # (a link to it)
    ["train", "--manifest", "{m}", "--features", "{f}", "--out", "/", *TINY_TRAIN],
    ["demo", "--out", "/"],
])
def test_out_root_is_refused_before_anything_is_written(args, tmp_path, monkeypatch, capsys):
    """`python -m extract v/x.mp4 --out / --weights random` (as `--out "$STORE/"` with STORE unset) wrote meta.json,
    sources.jsonl and resnet152/x.npy into the file system's root (hostile trial), as `--out ""` would have filled
    the current folder, which is refused: one line, exit 2, nothing written."""
    from s2vt.config import ConfigError, TrainConfig

    manifest, features = make_store(tmp_path / "data", videos=12)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.mp4").write_bytes(b"not decoded: refused before")
    (tmp_path / "root").symlink_to("/")
    given = {"m": manifest, "f": features, "v": tmp_path / "d" / "a.mp4", "root": tmp_path / "root"}
    args = [a.format(**given) for a in args]
    before = sorted(os.listdir("/"))
    code = extract_main(args[1:]) if args[0] == "python -m extract" else cli.main(args)
    assert code == 2 and one_line(capsys) == ROOT_OUT.format(out=args[args.index("--out") + 1])
    assert sorted(os.listdir("/")) == before
    if args[0] == "train":
        with pytest.raises(ConfigError, match="^--out /: that is the file system's root"):
            TrainConfig.of(str(manifest), str(features), "/")


def test_a_blank_path_is_refused_as_an_empty_one(tmp_path, monkeypatch, capsys):
    """`--out "  "` made a folder named by two spaces, exit 0."""
    from s2vt.config import ConfigError, TrainConfig

    manifest, features = make_store(tmp_path / "data", videos=12)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--manifest", str(manifest), "--features", str(features), "--out", "  ",
                     *TINY_TRAIN]) == 2
    assert one_line(capsys) == "error: --out is blank (an unset shell variable?): give a path\n"
    assert not (tmp_path / "  ").exists()
    with pytest.raises(ConfigError, match="^--out is blank"):
        TrainConfig.of(str(manifest), str(features), " ")


def test_a_ctrl_c_while_the_modules_load_is_one_line_and_sigint_status():
    """`python -m extract` interrupted in its first seconds (torch loading) printed a 43-line traceback."""
    import signal

    proc = run_cli("-c", "from s2vt.errors import interrupt_quietly\ninterrupt_quietly()\nraise KeyboardInterrupt")
    assert proc.stderr == "interrupted: while starting, before anything was written\n" and proc.returncode in (130, -signal.SIGINT)
    proc = run_cli("-c", "from s2vt.errors import interrupt_quietly\ninterrupt_quietly()\nraise ValueError('bug')")
    assert "Traceback" in proc.stderr and "ValueError: bug" in proc.stderr  # anything else: a bug's traceback
    assert "interrupt_quietly()" in (REPO / "extract" / "__main__.py").read_text().split("from .pipeline")[0]


@pytest.mark.parametrize("sig, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_serve_takes_a_signal_inherited_ignored_while_its_modules_load(sig, code):
    """(hostile trial) `s2vt serve &` from a script ignored a SIGINT that came while its modules loaded (the
    inherited SIG_IGN), then served. Now the entry point's `interrupt_quietly` takes it for serve: one
    `interrupted: while starting` line and 130 (143). Other commands keep an inherited SIG_IGN."""
    code_line = ("import os, signal, time\nsignal.signal(signal.{sig}, signal.SIG_IGN)\n"
                 "from s2vt.errors import interrupt_quietly\ninterrupt_quietly({argv!r})\n"
                 "os.kill(os.getpid(), signal.{sig})\ntime.sleep(0.5)\nprint('ignored')")
    proc = run_cli("-c", code_line.format(sig=sig, argv=["serve", "--port", "1"]), timeout=60)
    assert proc.returncode == code and proc.stdout == "", (proc.stdout, proc.stderr)
    assert proc.stderr == "interrupted: while starting, before anything was written; to start again: " \
        "s2vt serve --port 1\n", proc.stderr
    assert "SIGTERM" == sig or run_cli("-c", code_line.format(sig=sig, argv=["score", "p.json"])).stdout == \
        "ignored\n"  # (a nohup'd or backgrounded batch command keeps its SIG_IGN)


# (a test's own sitecustomize, not the product's: the signal comes exactly while s2vt.options loads, which
# every entry point imports before its command's own handling, instead of at a guessed moment)
SIGNAL_WHILE_LOADING = """import os, signal, sys


class SignalOnImport:
    def find_spec(self, name, path=None, target=None):
        if name == "s2vt.options":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.{sig})
        return None


sys.meta_path.insert(0, SignalOnImport())
"""


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("entry, again", [
    (["train.py", "--out", "a b"], ["{python}", "train.py", "--out", "a b"]),
    (["caption.py", "v.mp4"], ["{python}", "caption.py", "v.mp4"]),
    (["-m", "s2vt", "score", "p.json"], ["{python}", "-m", "s2vt", "score", "p.json"]),
    (["-m", "s2vt.cli", "evaluate", "--checkpoint", "c.pt"], ["{python}", "-m", "s2vt.cli", "evaluate", "--checkpoint",
                                                               "c.pt"]),
    (["-m", "s2vt.cli"], None)])  # (no command: nothing to start again)
def test_a_signal_while_an_entry_point_loads_its_modules_is_one_line(tmp_path, sig, entry, again):
    """A Ctrl-C while `python train.py` (caption.py, `python -m s2vt`, `s2vt`) was still importing printed
    Python's KeyboardInterrupt traceback through the imports; a SIGTERM then ended it with no line at all."""
    import os
    import shlex
    import signal
    import sys

    (tmp_path / "sitecustomize.py").write_text(SIGNAL_WHILE_LOADING.format(sig=sig))
    proc = run_cli(*entry, env={"PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}, timeout=120)
    line = "interrupted: while starting, before anything was written"
    if again:
        python = os.path.basename(sys.executable)
        line += "; to start again: " + shlex.join(w.format(python=python) for w in again)
    assert proc.stderr == line + "\n" and "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == (143 if sig == "SIGTERM" else 130) == 128 + getattr(signal, sig)
    assert proc.stdout == ""


def test_the_starting_sigterm_handler_is_handed_to_the_command():
    """`interrupt_quietly`'s SIGTERM handler, there while the modules load, is replaced by the command's
    (`terminate_as_interrupt`), which puts SIGTERM's default back at its end (`exit_quietly_after` then
    takes it for the process's exit)."""
    import signal

    from s2vt.errors import terminate_as_interrupt, terminated_while_starting

    previous = signal.signal(signal.SIGTERM, terminated_while_starting)
    try:
        with terminate_as_interrupt():
            assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, terminated_while_starting)
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_reader_that_stops_early_is_no_traceback(tmp_path):
    """`caption.py DIR --json | head -1` ended in a BrokenPipeError traceback once head had its line."""
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-m", "s2vt.cli", "weights", "list", "--dir", str(tmp_path)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()  # (before the CLI prints its table: it writes into a pipe with no reader)
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == cli.BROKEN_PIPE and err == "", err


@pytest.mark.parametrize("argv0, command, words", [
    ("/venv/bin/s2vt", "demo", ["s2vt", "demo"]),
    ("/repo/s2vt/cli.py", "evaluate", ["python3", "-m", "s2vt.cli", "evaluate"]),
    ("/repo/s2vt/demo.py", "demo", ["python3", "-m", "s2vt.demo"]),
    ("train.py", "train", ["python3", "train.py"]),
    ("/repo/extract/__main__.py", "extract", ["python3", "-m", "extract"]),
    # (another command than the module's own: python -m s2vt's, as importable there; hostile trial, trial 130)
    ("/repo/extract/__main__.py", "train", ["python3", "-m", "s2vt", "train"]),
    ("/repo/s2vt/demo.py", "train", ["python3", "-m", "s2vt", "train"]),
    ("/usr/bin/pytest", "demo", ["s2vt", "demo"])])  # (an unknown program: the console script's name)
def test_restart_lines_name_the_command_as_it_was_typed(argv0, command, words, monkeypatch, tmp_path):
    """`python -m s2vt.cli demo`, interrupted, said to start it again with `s2vt demo ...`."""
    from s2vt.errors import invoked_as

    monkeypatch.chdir(tmp_path)  # (away from the checkout: there `python -m extract` names its train.py)
    monkeypatch.setattr("sys.argv", [argv0, "--out", "x"])
    monkeypatch.setattr("sys.orig_argv", ["python3", argv0, "--out", "x"])
    assert invoked_as(command) == words


def test_from_extract_in_the_checkouts_root_train_is_its_train_py(monkeypatch):
    """`python -m extract` in the checkout's root advised `python -m s2vt.cli train`, where the README runs
    `python train.py`: that, when the train.py there is the checkout's own (`python -m s2vt COMMAND` for others)."""
    from s2vt.errors import checkout_root, invoked_as

    if checkout_root() is None:
        pytest.skip("s2vt runs installed, not from its checkout")
    monkeypatch.chdir(checkout_root())
    monkeypatch.setattr("sys.argv", [str(checkout_root() / "extract" / "__main__.py")])
    monkeypatch.setattr("sys.orig_argv", ["python3", "-m", "extract"])
    assert invoked_as("train") == ["python3", "train.py"] and invoked_as("caption") == ["python3", "caption.py"]
    assert invoked_as("evaluate") == ["python3", "-m", "s2vt", "evaluate"]


def test_the_start_again_line_has_one_home(monkeypatch):
    """The CLI's `interrupted:` lines and the one while the modules load built the line to paste each
    their own way (`cli.again_line`, `errors.starting_line`): `errors.again_line` is the one."""
    from s2vt.errors import again_line, starting_line

    monkeypatch.setattr("sys.argv", ["/venv/bin/s2vt"])
    argv = ["evaluate", "--checkpoint", "my run/best.pt"]
    assert again_line(argv, cli.STARTED_AGAIN) == again_line(argv) == "s2vt evaluate --checkpoint 'my run/best.pt'"
    assert again_line(["nope", "x"], cli.STARTED_AGAIN) == again_line(["--help"]) == again_line([]) == ""
    assert again_line(["nope", "x"]) == "s2vt nope x"  # (no CLI loaded: any first word not an option)
    assert starting_line(argv, cli.STARTED_AGAIN) == cli.interrupted_starting(argv) == \
        "interrupted: while starting, before anything was written; to start again: " + again_line(argv)
    assert starting_line(["nope"], cli.STARTED_AGAIN) == "interrupted: while starting, before anything was written"
    assert f"to start again: {again_line(['caption', 'a b'])}" in cli.interrupted_command("caption", ["caption", "a b"])


def test_an_interrupted_demo_started_as_a_module_says_so(tmp_path, capsys, monkeypatch):
    import s2vt.demo

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(s2vt.demo, "demo_steps", ctrl_c)
    monkeypatch.setattr("sys.argv", ["/repo/s2vt/cli.py", "demo", "--out", str(tmp_path / "d")])
    monkeypatch.setattr("sys.orig_argv", ["python", "-m", "s2vt.cli", "demo", "--out", str(tmp_path / "d")])
    assert cli.main(["demo", "--out", str(tmp_path / "d")]) == 130
    assert capsys.readouterr().err == (f"interrupted: {tmp_path / 'd'} holds a partial demo; to start it again: "
                                       f"python -m s2vt.cli demo --out {tmp_path / 'd'} --overwrite\n")


def test_a_users_file_named_like_a_lock_is_never_taken_over(tmp_path):
    """A file of the lock's name holding anything but a pid is the user's, not a stale lock: refused
    (named, said not to be s2vt's), never removed; an empty old one, or a dead pid's, is taken over."""
    import os

    from s2vt.fileio import OutputError
    from s2vt.locks import LOCK_WRITING_S, take_lock

    def busy(pid):
        return OutputError(f"busy {pid}")

    lock = tmp_path / ".p.json.lock"
    for content in (b"my notes\n", b"\xff\xfe binary", b"12abc"):
        lock.write_bytes(content)
        os.utime(lock, (1, 1))  # (older than LOCK_WRITING_S: a garbled lock used to be stale)
        with pytest.raises(OutputError, match=r"\.p\.json\.lock is not s2vt's lock") as e:
            take_lock(lock, busy)
        assert "\n" not in str(e.value) and lock.read_bytes() == content
    lock.unlink()
    lock.mkdir()
    with pytest.raises(OutputError, match="not s2vt's lock"):
        take_lock(lock, busy)
    lock.rmdir()
    lock.write_text("")
    os.utime(lock, (1, 1))
    assert LOCK_WRITING_S < 60 and take_lock(lock, busy) == lock and lock.read_text().split()[0] == str(os.getpid())
    lock.write_text("1\n")  # (a live process, however old its lock: refused, the caller's line says what to remove)
    os.utime(lock, (1, 1))
    with pytest.raises(OutputError, match="busy 1"):
        take_lock(lock, busy)


def test_a_lock_is_read_strictly_as_s2vt_writes_it(tmp_path):
    """A file of the lock's name holding "12345\\n67890\\n" or "300 400" (no newline) was read as "PID START" and,
    its pid gone, taken over as stale (deleted), though a file holding anything else is never removed (hostile
    trial): a lock is one line, as s2vt writes it ('PID START HOST', 'PID - HOST', or the older 'PID START' and
    'PID', each ending in one newline), else not s2vt's."""
    import os
    import subprocess
    import sys

    from s2vt.fileio import OutputError
    from s2vt.locks import take_lock, this_host

    def busy(pid):
        return OutputError(f"busy {pid}")

    gone = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)
    lock = tmp_path / ".p.json.lock"
    for content in (f"{gone}\n67890\n", f"{gone} 400", f"{gone}", f"{gone} 400\n\n", f" {gone} 400\n",
                    f"{gone}  400\n", f"{gone} 400 {this_host()}\r\n", f"{gone}\t400\n", "\n", " \n"):
        lock.write_text(content, newline="")
        os.utime(lock, (1, 1))
        with pytest.raises(OutputError, match=r"\.p\.json\.lock is not s2vt's lock"):
            take_lock(lock, busy)
        assert lock.read_bytes() == content.encode(), repr(content)
    for content in (f"{gone} 400 {this_host()}\n", f"{gone} - {this_host()}\n", f"{gone} 400\n", f"{gone}\n"):
        lock.write_text(content)  # (s2vt's own, its process gone: stale, taken over)
        assert take_lock(lock, busy) == lock and lock.read_text().split()[0] == str(os.getpid()), content


def test_a_lock_whose_pid_is_now_another_process_is_stale(tmp_path):
    """`echo 1 > RUN/.s2vt-train.lock` (a pid reused after a reboot or a container restart) blocked the folder
    for good (hostile trial): a lock records its process's start time beside its pid, and one whose pid's
    process started at another time is stale. A lock of the old format (a pid alone) is taken as before."""
    import os

    from s2vt.fileio import OutputError
    from s2vt.locks import lock_owner, process_start, release_lock, take_lock, this_host

    def busy(pid):
        return OutputError(f"busy {pid}")

    me, started, host = os.getpid(), process_start(os.getpid()), this_host()
    assert started is not None and started.isdigit()
    lock = tmp_path / ".s2vt-train.lock"
    assert take_lock(lock, busy) == lock and lock.read_text() == f"{me} {started} {host}\n"
    assert lock_owner(lock) == me
    release_lock(lock)
    assert not lock.exists()
    other = os.getppid()  # (a live process: its pid reused by another start than the lock's)
    lock.write_text(f"{other} {int(process_start(other)) + 1}\n")
    assert lock_owner(lock) is None
    assert take_lock(lock, busy) == lock and lock.read_text() == f"{me} {started} {host}\n"
    lock.write_text(f"{other} {process_start(other)}\n")  # (that very process: it holds the lock)
    with pytest.raises(OutputError, match=f"busy {other}"):
        take_lock(lock, busy)
    lock.write_text(f"{other}\n")  # (the old format: live, as before)
    with pytest.raises(OutputError, match=f"busy {other}"):
        take_lock(lock, busy)
    for content in (f"{other} x\n", f"{other} 1 2 3\n", f"{other} -\n", f"{other} x {host}\n"):  # (not s2vt's)
        lock.write_text(content)
        with pytest.raises(OutputError, match="not s2vt's lock"):
            take_lock(lock, busy)


def test_a_lock_of_pid_0_is_not_s2vts_lock(tmp_path, capsys):
    """A lock holding `0` (or `0 0`) blocked its folder for good, "another training run is writing there"
    (hostile trial): os.kill(0, 0) signals the caller's own process group, and succeeds. Pid 0 is no
    process's: not s2vt's lock (as `-5`), for train's, evaluate's and the demo's locks alike, never removed."""
    from s2vt.demo import LOCK
    from s2vt.engine import refuse_training
    from s2vt.fileio import OutputError
    from s2vt.locks import TRAIN_LOCK, lock_owner, take_lock

    def busy(pid):
        return OutputError(f"busy {pid}")

    for content in ("0\n", "0 0\n", "00\n"):
        lock = tmp_path / ".p.json.lock"
        lock.write_text(content)
        with pytest.raises(OutputError, match=r"\.p\.json\.lock is not s2vt's lock \(a file that holds something "
                                              r"other than a process id\)"):
            lock_owner(lock)
        with pytest.raises(OutputError, match="not s2vt's lock"):
            take_lock(lock, busy)
        assert lock.read_text() == content
        (tmp_path / TRAIN_LOCK).write_text(content)
        with pytest.raises(OutputError, match=f"{TRAIN_LOCK} is not s2vt's lock"):
            refuse_training(tmp_path)
        demo = tmp_path / "demo"
        demo.mkdir(exist_ok=True)
        (demo / LOCK).write_text(content)
        assert cli.main(["demo", "--out", str(demo)]) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and f"{LOCK} is not s2vt's lock" in err[0] and "another s2vt demo" not in err[0], err
        assert (demo / LOCK).read_text() == content


def test_a_special_file_at_a_locks_name_is_one_line_never_a_hang(tmp_path, capsys):
    """A symbolic link loop at the lock's name was an OSError traceback (train.py) or a chained one (evaluate),
    a pipe hung the command for good reading it, a link to /dev/zero read until a MemoryError (hostile
    trial). None is read unbounded nor waited on: each is not s2vt's lock, one line, and is kept; a dangling
    link, or a link to a stale lock, is still taken over."""
    import os
    import signal
    import socket

    from s2vt.demo import LOCK
    from s2vt.engine import refuse_locked, refuse_training
    from s2vt.fileio import OutputError
    from s2vt.locks import TRAIN_LOCK, lock_owner, release_lock, take_lock

    def busy(pid):
        return OutputError(f"busy {pid}")

    def hung(*_):
        raise TimeoutError("blocked reading the lock")

    def make(lock, kind):
        if kind == "a symbolic link loop":
            lock.symlink_to(lock.name)
        elif kind == "a pipe":
            os.mkfifo(lock)
        elif kind == "a socket":
            sock = socket.socket(socket.AF_UNIX)
            sock.bind(str(lock))
            sock.close()
        else:
            lock.symlink_to(os.devnull)

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)  # (the old code waited on the pipe for a writer: fail, never hang the suite)
    try:
        for kind in ("a symbolic link loop", "a pipe", "a socket", "a device"):
            folder = tmp_path / kind.split()[-1]
            folder.mkdir()
            lock = folder / TRAIN_LOCK
            make(lock, kind)
            with pytest.raises(OutputError, match=rf"{TRAIN_LOCK} is not s2vt's lock \({kind}\), but s2vt writes"):
                lock_owner(lock)
            with pytest.raises(OutputError, match=rf"not s2vt's lock \({kind}\)"):
                take_lock(lock, busy)
            with pytest.raises(OutputError, match=rf"not s2vt's lock \({kind}\)"):
                refuse_training(folder)
            release_lock(lock)  # (not this process's: kept, and no hang)
            evaluate_lock = folder / ".p.json.lock"
            make(evaluate_lock, kind)
            refuse_locked(folder)  # (training's check of evaluate locks: not s2vt's, no refusal, no hang)
            demo = folder / "demo"
            demo.mkdir()
            make(demo / LOCK, kind)
            assert cli.main(["demo", "--out", str(demo)]) == 2
            err = capsys.readouterr().err.splitlines()
            assert err == [f"error: {demo / LOCK} is not s2vt's lock ({kind}), but s2vt writes its lock under that "
                           "name: move or rename it"], err
            assert all(p.is_symlink() or p.exists() for p in (lock, evaluate_lock, demo / LOCK))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    # /dev/zero: the old code read it whole (a MemoryError); in a child with 1 GiB of memory, never this suite's
    zero = tmp_path / "zero.lock"
    zero.symlink_to("/dev/zero")
    child = subprocess.run([sys.executable, "-c", "import resource, sys; from pathlib import Path\n"
                            "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
                            "from s2vt.fileio import OutputError\nfrom s2vt.locks import lock_owner\n"
                            "try:\n    lock_owner(Path(sys.argv[1]))\nexcept OutputError as e:\n    print(e)",
                            str(zero)], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert child.stdout.startswith(f"{zero} is not s2vt's lock (a device)"), child.stdout + child.stderr
    # a link that names nothing, or a stale lock: taken over (the link replaced, what it named left alone)
    stale = tmp_path / "stale"
    stale.write_text(gone.stdout)
    for target in (tmp_path / "nothing", stale):
        link = tmp_path / ".q.json.lock"
        link.symlink_to(target)
        assert take_lock(link, busy) == link and not link.is_symlink() and lock_owner(link) == os.getpid()
        release_lock(link)
        assert not link.exists()
    assert stale.read_text() == gone.stdout
    big = tmp_path / ".big.lock"
    big.write_bytes(b"1" * 100_000)
    with pytest.raises(OutputError, match="not s2vt's lock"):
        take_lock(big, busy)


# two processes behind a barrier take one stale lock (a dead pid's), TRIALS times: how many trials each won
TAKEOVER_RACE = """
import multiprocessing, sys, time
from pathlib import Path
from s2vt import locks
from s2vt.fileio import OutputError
from s2vt.locks import release_lock, take_lock

judge = locks.lock_owner


def slow_judge(lock):  # (a loaded machine: time passes between judging the lock stale and replacing it)
    owner = judge(lock)
    time.sleep(0.0002 if owner is None else 0)
    return owner


locks.lock_owner = slow_judge

def contend(lock, barrier, trials, out):
    won = []
    for _ in range(trials):
        barrier.wait()  # (the stale lock written: both take it at once)
        try:
            take_lock(lock, lambda pid: OutputError(f"busy {pid}"))
            won.append(True)
        except OutputError:
            won.append(False)
        barrier.wait()  # (both tried, the winner still holding it)
        if won[-1]:
            release_lock(lock)
        barrier.wait()
    out.send(won)

lock, dead, trials = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
fork = multiprocessing.get_context("fork")  # (a fresh interpreter, no threads: fork is safe and quick)
barrier = fork.Barrier(3)
pipes = [fork.Pipe(False) for _ in range(2)]
workers = [fork.Process(target=contend, args=(lock, barrier, trials, send)) for _, send in pipes]
for w in workers:
    w.start()
for _ in range(trials):
    lock.write_text(f"{dead} 1\\n")
    for _ in range(3):
        barrier.wait()
won = [receive.recv() for receive, _ in pipes]
for w in workers:
    w.join()
print(sum(a and b for a, b in zip(*won)), sum(not a and not b for a, b in zip(*won)), lock.exists())
"""


def test_two_runs_taking_over_one_stale_lock_never_both_hold_it(tmp_path):
    """Two runs that found one stale lock (a SIGKILLed run's) at once: one removed it and made its own, the
    other then removed that fresh lock and made its own, and both ran (two train.py into one --out; 2 of 200
    trials, hostile trial). The stale lock is judged and replaced under a guard (flock on its folder): of
    1,000 such races, the judging slowed to widen the window, exactly one run wins each (both won 968 before;
    without the slowing, 35 to 64 of 1,000)."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock = tmp_path / ".s2vt-train.lock"
    race = subprocess.run([sys.executable, "-c", TAKEOVER_RACE, str(lock), gone.stdout.strip(), "1000"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert race.returncode == 0, race.stderr
    both, neither, left = race.stdout.split()
    assert (both, neither, left) == ("0", "0", "False"), race.stdout  # (one winner a race; its lock removed)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # (the guard leaves no file behind)


def test_a_lock_of_another_host_is_never_taken_over(tmp_path, capsys, monkeypatch):
    """Locks recorded no host: on a shared file system (docs/usage.md, multi-node) a second launch from
    another machine into the same --out found the live run's pid absent there, called the lock stale and
    took it over (hostile trial). A lock records this host's name; another host's is live, and the refusal
    names that host (from here none can tell whether it still runs there). The older formats read as before."""
    import os

    from s2vt.demo import LOCK
    from s2vt.engine import refuse_training
    from s2vt.resume import RunFolderError
    from s2vt.fileio import OutputError
    from s2vt.locks import TRAIN_LOCK, lock_owner, lock_text, release_lock, take_lock, this_host

    def busy(pid):
        return OutputError(f"busy {pid} {getattr(pid, 'host', '')}")

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(gone.stdout)  # (no process here: another machine's run, or a killed one of this machine's)
    host = this_host()
    assert lock_text().split()[::2] == [str(os.getpid()), host] and host != "node7"
    lock = tmp_path / TRAIN_LOCK
    for content in (f"{dead} 12345 node7\n", f"{dead} - node7\n"):
        lock.write_text(content)
        assert lock_owner(lock) == dead and lock_owner(lock).host == "node7"
        with pytest.raises(OutputError, match=f"busy {dead} node7"):
            take_lock(lock, busy)
        with pytest.raises(RunFolderError) as refused:
            refuse_training(tmp_path)
        assert str(refused.value) == (f"{tmp_path}: another training run on host node7 (pid {dead}) is writing there: "
                                      f"wait for it to end, or pass another --out (if none runs on node7, remove {lock})")
        assert lock.read_text() == content
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / LOCK).write_text(f"{dead} 12345 node7\n")
    assert cli.main(["demo", "--out", str(demo)]) == 2
    assert capsys.readouterr().err == (f"error: --out {demo}: another s2vt demo on host node7 (pid {dead}) is writing "
                                       f"into this folder: wait for it to end, or choose another folder (if none "
                                       f"runs on node7, remove {demo / LOCK})\n")
    # this host's lock of a process gone, and the older formats (pid; pid and start): stale, taken over
    for content in (f"{dead} 12345 {host}\n", f"{dead} - {host}\n", f"{dead} 12345\n", f"{dead}\n"):
        lock.write_text(content)
        assert lock_owner(lock) is None
        assert take_lock(lock, busy) == lock and lock.read_text() == lock_text()
        release_lock(lock)
        assert not lock.exists()
    # this pid on another machine is another run: not this process's lock to remove
    lock.write_text(f"{os.getpid()} 12345 node7\n")
    release_lock(lock)
    assert lock.read_text() == f"{os.getpid()} 12345 node7\n"
    monkeypatch.setattr("socket.gethostname", lambda: "my host\x01é")  # (one printable word, whatever the name)
    assert this_host() == "my_host__" and lock_text().split()[2] == "my_host__"


def test_every_lock_refusal_says_who_holds_it_and_how_to_clear_it_alike(tmp_path):
    """The lines of train's, evaluate's and the demo's lock refusals were built four ways; they have one home
    (`locks.busy_line`): the holder and its pid (not a pid not written yet), what to do, the lock to remove."""
    import os

    from s2vt.demo import running_demo
    from s2vt.engine import refuse_locked, refuse_training
    from s2vt.resume import RunFolderError
    from s2vt.fileio import OutputError
    from s2vt.locks import TRAIN_LOCK, busy_line, lock_text
    from s2vt.predict import refuse_training_runs, writing_elsewhere

    assert busy_line("x", "another run", 12, "is writing there", "pass another --out", tmp_path / "L") == \
        f"x: another run (pid 12) is writing there: wait for it to end, or pass another --out (if none runs, " \
        f"remove {tmp_path / 'L'})"
    assert busy_line("x", "a run", -1, "writes", "", tmp_path / "L") == \
        f"x: a run writes: wait for it to end (if none runs, remove {tmp_path / 'L'})"
    me = os.getpid()
    run = tmp_path / "run"
    run.mkdir()
    (run / TRAIN_LOCK).write_text(lock_text())
    with pytest.raises(OutputError) as refused:
        refuse_training_runs([(run / "best.pt", "--out")])
    assert str(refused.value) == busy_line(f"cannot write {run / 'best.pt'}", "a training run", me,
                                           f"is writing {run}", "name another --out", run / TRAIN_LOCK)
    with pytest.raises(RunFolderError, match=rf"another training run \(pid {me}\) is writing there: .* remove "):
        refuse_training(run)
    (run / TRAIN_LOCK).unlink()
    (run / ".preds.json.lock").write_text(lock_text())
    with pytest.raises(RunFolderError, match=rf"another s2vt command \(pid {me}\) is writing into this folder: "
                                             r"wait for it to end \(if none runs, remove "):
        refuse_locked(run)
    assert "another s2vt evaluate (pid 5) is writing it: wait for it to end, or name another --html" \
        in str(writing_elsewhere(run / "p.html", "--html ")(5))
    assert "another s2vt demo is writing into this folder: wait for it to end, or choose another folder" \
        in str(running_demo(run, -1))


def test_an_output_name_too_long_for_its_lock_is_one_line(tmp_path, capsys):
    """--out of 250 bytes: '.NAME.lock' passes the file system's 255, an OSError traceback (from the metrics
    file's stat, or the lock) before."""
    from s2vt.fileio import OutputError
    from s2vt.locks import take_lock

    with pytest.raises(OutputError, match="cannot write the lock file .*File name too long.*name the output shorter"):
        take_lock(tmp_path / f".{'p' * 250}.lock", lambda pid: OutputError("busy"))
    out = tmp_path / ("p" * 245 + ".json")
    code = cli.main(["evaluate", "--checkpoint", str(tmp_path / "best.pt"), "--manifest", str(tmp_path / "m.jsonl"),
                     "--out", str(out)])
    assert code == 2 and "its name is too long" in one_line(capsys)
    assert sorted(tmp_path.iterdir()) == []


def test_an_atomic_write_that_fails_names_the_file_it_was_writing(tmp_path):
    """A name too long for the file system, given as a str, was an AttributeError ('str' object has no attribute
    'parent') hiding the OSError (review): one OutputError naming the file; an OSError out of the items themselves
    (not of a file written) named the previous item's file: it is the items' own, raised as it is, nothing kept."""
    import errno

    from s2vt.fileio import OutputError, atomic_write_all, atomic_write_bytes

    long = str(tmp_path / ("a" * 300))
    with pytest.raises(OutputError, match=f"^cannot write {long}: File name too long$"):
        atomic_write_bytes(long, b"x")

    def items():
        yield tmp_path / "first", b"1"
        raise OSError(errno.EIO, "the items' own error")
    with pytest.raises(OSError, match="the items' own error") as raised:
        atomic_write_all(items())
    assert type(raised.value) is OSError
    assert sorted(tmp_path.iterdir()) == []


def full_disk_locks(monkeypatch):
    """Make every lock file s2vt creates (O_EXCL) on a disk with no space left: the name is made (an inode),
    its pid's write fails with ENOSPC (the descriptor given back writes to /dev/full)."""
    import s2vt.locks

    real_open = os.open

    def lock_open(path, flags, *args, **kwargs):
        fd = real_open(path, flags, *args, **kwargs)
        if flags & os.O_EXCL and os.fsdecode(path).endswith(".lock"):
            os.close(fd)
            return real_open("/dev/full", os.O_WRONLY)
        return fd
    monkeypatch.setattr(s2vt.locks.os, "open", lock_open)


def test_a_lock_whose_pid_cannot_be_written_is_one_line_and_left_no_lock(tmp_path, capsys, monkeypatch):
    """On a disk with no space left the lock was made but its pid's write failed: a traceback (exit 1), and the
    empty lock left behind made a rerun within 10 s say another run was writing (hostile trial). Now one line,
    and no lock is left."""
    from s2vt.demo import LOCK
    from s2vt.fileio import OutputError
    from s2vt.locks import take_lock

    lock = tmp_path / ".p.metrics.json.lock"
    with monkeypatch.context() as m:
        full_disk_locks(m)
        with pytest.raises(OutputError, match=f"^cannot write the lock file {lock}: No space left on device$"):
            take_lock(lock, lambda pid: OutputError("busy"))
    assert not lock.exists()
    out = tmp_path / "demo"
    with monkeypatch.context() as m:
        full_disk_locks(m)
        assert cli.main(["demo", "--out", str(out)]) == 2
        assert one_line(capsys) == f"error: --out {out}: cannot write there: No space left on device\n"
    assert not (out / LOCK).exists()
    assert take_lock(lock, lambda pid: OutputError("busy")) == lock  # (the rerun: not refused)


def test_huge_sizes_and_counts_are_one_line_before_any_output(tmp_path, capsys):
    """--batch-size 1e20 (ValueError in islice, OverflowError), --hidden 1e11 (terabytes asked for),
    --beam 100000 (27 GB, or a caption.py that hangs): an upper bound, said in one line, exit 2."""
    (tmp_path / "m.jsonl").write_text("")
    big = "99999999999999999999"
    train = ["train", "--manifest", str(tmp_path / "m.jsonl"), "--out", str(tmp_path / "run")]
    evaluate = ["evaluate", "--checkpoint", str(tmp_path / "best.pt"), "--manifest", str(tmp_path / "m.jsonl"),
                "--out", str(tmp_path / "o" / "p.json")]
    cases = [(train + ["--batch-size", big], f"--batch-size must be at most 1048576, not {big}"),
             (train + ["--enc-len", big], f"--enc-len must be at most 10000, not {big}"),
             (train + ["--hidden", "99999999999"], "--hidden must be at most 65536, not 99999999999"),
             (train + ["--embed", "70000"], "--embed must be at most 65536"),
             (train + ["--tag-ensemble", "65"], "--tag-ensemble must be at most 64"),
             (evaluate + ["--batch-size", big], f"--batch-size must be at most 1048576, not {big}"),
             (evaluate + ["--beam", "100000"], "--beam must be at most 100, not 100000"),
             (["caption", "v.mp4", "--checkpoint", "x.pt", "--beam", "101"], "--beam must be at most 100"),
             # (torch.manual_seed's range: beyond it a traceback, and extract left an empty --out; trial 78)
             # (train's: an epoch's seed is seed * 1000 + epoch; trial 79)
             (train + ["--seed", str(2 ** 64 - 1)], f"--seed must be at most {2 ** 53}, not {2 ** 64 - 1}"),
             (train + ["--seed", str(-2 ** 63)], f"--seed must be at least {-2 ** 53}")]
    for argv, message in cases:
        assert cli.main(argv) == 2, argv
        assert message in one_line(capsys), argv
    for option, most in (("--batch-size", "1048576"), ("--batch-videos", "1048576"), ("--seed", f"{2 ** 64 - 1}")):
        assert extract_main([str(tmp_path), "--out", str(tmp_path / "store"), option, big]) == 2
        assert f"{option} must be at most {most}" in one_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.jsonl"]


@pytest.mark.parametrize("argv0, argv, expected", [
    ("train.py", ["train"], "error: the following arguments are required: --out (see python train.py --help)\n"),
    ("s2vt", ["import", "mlds"], "error: the following arguments are required: DIR, --out (see s2vt import mlds --help)\n"),
    ("s2vt", ["bogus"], "error: argument COMMAND: invalid choice: 'bogus'"),
    # (the program's own parser named as it was started, as each command's is: it said `s2vt`)
    (str(REPO / "s2vt" / "cli.py"), ["bogus"], "error: argument COMMAND: invalid choice: 'bogus'"),
    (str(REPO / "s2vt" / "cli.py"), ["--bogus"], "error: unrecognized arguments: --bogus (see python -m s2vt.cli --help)"),
    ("caption.py", ["caption", "x.mp4", "--beam"], "error: argument --beam: expected one argument (see python caption.py "
                                                   "--help)\n"),
])
def test_a_missing_or_malformed_argument_is_one_line_not_the_usage_block(argv0, argv, expected, capsys, monkeypatch):
    """`python train.py` without --out printed its 40 usage lines with the error under them."""
    monkeypatch.setattr("sys.argv", [argv0])
    monkeypatch.setattr("sys.orig_argv", ["python", argv0])  # (as typed: under the `pytest` script it is python3)
    try:
        code = cli.main(argv)
    except SystemExit as stop:
        code = stop.code
    assert code == 2
    line = one_line(capsys)
    assert line.startswith(expected)
    if argv0.endswith("cli.py"):
        assert line.rstrip().endswith("(see python -m s2vt.cli --help)"), line


def test_extract_and_demo_name_themselves_in_a_one_line_argument_error(capsys):
    from s2vt.demo import main as demo_main

    # (extract under the test runner: the console script's form, test_extract_names_itself_as_it_was_started)
    for run, argv, prog in [(extract_main, [], "s2vt extract"), (demo_main, ["--per-combo", "x"], "s2vt demo")]:
        with pytest.raises(SystemExit) as stop:
            run(argv)
        assert stop.value.code == 2 and one_line(capsys).endswith(f"(see {prog} --help)\n")


@pytest.mark.parametrize("argv0, prog", [("/venv/bin/s2vt-extract", "s2vt-extract"),
                                         (str(REPO / "extract" / "__main__.py"), "python3 -m extract")])
def test_extract_names_itself_as_it_was_started(argv0, prog, capsys, monkeypatch):
    """`s2vt-extract --help`'s usage line read `python -m extract`, which needs the checkout (or knowing the
    package's name) (hostile trial): now the program as started, as the s2vt commands' do."""
    monkeypatch.setattr("sys.argv", [argv0])
    monkeypatch.setattr("sys.orig_argv", ["python3", argv0])
    with pytest.raises(SystemExit) as stop:
        extract_main(["--help"])
    assert stop.value.code == 0 and capsys.readouterr().out.startswith(f"usage: {prog} [-h] --out OUT")
    with pytest.raises(SystemExit) as stop:
        extract_main([])
    assert stop.value.code == 2 and one_line(capsys).endswith(f"(see {prog} --help)\n")


def test_an_unknown_option_of_an_import_format_points_at_that_formats_help(capsys, monkeypatch):
    monkeypatch.setattr("sys.argv", ["s2vt"])
    assert cli.main(["import", "yt8m", "x.tfrecord", "--out", "m.jsonl", "--videos", "v"]) == 2
    assert capsys.readouterr().err == "error: unrecognized arguments: --videos v (see s2vt import yt8m --help)\n"


def test_sigterm_is_taken_as_a_ctrl_c_only_while_an_entry_point_runs():
    """A SIGTERM ended the commands at once (Python's default: no finally block, no atexit). While an
    entry point runs it raises Terminated (a KeyboardInterrupt, so each command's Ctrl-C handling runs)
    and the exit status is 143; importing the library, or a command run in-process ending, leaves the
    process's handler as it was, and a SIGTERM its parent ignores stays ignored."""
    import os
    import signal
    import threading

    from s2vt.errors import TERMINATED, Terminated, exit_status, terminate_as_interrupt

    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # (imported above: nothing installed)
    with terminate_as_interrupt() as came:
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # (else the kill below ends pytest)
        with pytest.raises(Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
            threading.Event().wait(5)  # (the handler runs in this thread, at once)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert came == [True] and exit_status(130, came) == TERMINATED == 143 and exit_status(2, came) == 2
    with terminate_as_interrupt() as quiet:
        pass
    assert exit_status(130, quiet) == 130  # a Ctrl-C's status is left as it was
    assert cli.main(["score", "no-refs.json", "no-preds.json"]) == 2
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with terminate_as_interrupt():
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)
    seen = []  # (another thread cannot set a handler: a command run there changes nothing)
    thread = threading.Thread(target=lambda: seen.append(terminate_as_interrupt().__enter__() == []))
    thread.start()
    thread.join()
    assert seen == [True] and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_interrupted_lines_say_what_was_kept_and_how_to_start_again(tmp_path):
    """A bare `interrupted` was all a Ctrl-C or SIGTERM said while the modules loaded, in a command with no
    line of its own, or in `s2vt import yt8m` (which had written part of its store, and no manifest)."""
    from s2vt.cli import interrupted_command, interrupted_starting
    from s2vt.importing import interrupted_import

    line = interrupted_starting(["evaluate", "--checkpoint", "my run/best.pt"])
    assert line.startswith("interrupted: while starting, before anything was written; to start again: ")
    assert line.endswith("s2vt evaluate --checkpoint 'my run/best.pt'")
    assert interrupted_command("score", ["score", "p.json"]).startswith("interrupted: score did not finish")
    assert interrupted_command("serve", ["serve"]) == "interrupted: the server stopped"
    assert "a partial download is kept (.part-NAME) and resumed by a rerun: s2vt weights download c3d" in \
        interrupted_command("weights", ["weights", "download", "c3d"])
    assert interrupted_command("caption", ["caption", "a", "b"], {"videos": 2, "captioned": 1, "failed": 0}) == \
        "interrupted: 1 of 2 videos was captioned (above), the other 1 was not; to start again: s2vt caption a b"
    store = tmp_path / "my store"
    for m, n in (("rgb", 3), ("audio", 2)):
        (store / m).mkdir(parents=True)
        for i in range(n):
            (store / m / f"v{i}.npy").write_bytes(b"")
    line = interrupted_import(store, "m.jsonl", ["import", "yt8m", "a b.tfrecord", "--out", "m.jsonl"], 3)
    assert line == (f"interrupted: it wrote the features of 3 videos to the store '{store}' before it stopped; the "
                    "manifest m.jsonl, written last, was not; run the same command again to finish: "
                    "s2vt import yt8m 'a b.tfrecord' --out m.jsonl")
    assert "no feature was written" in interrupted_import(tmp_path / "none", "m.jsonl", ["import", "yt8m"], 0)
    # what this run wrote is the importer's count (`progress["written"]`); the rest of the store is earlier imports'
    (store / "rgb" / "new.npy").write_bytes(b"")
    assert interrupted_import(store, "m.jsonl", ["import", "yt8m"], 1).startswith(
        f"interrupted: it wrote the features of 1 video to the store '{store}' before it stopped (the store holds 4);")
    (store / "rgb" / "new.npy").unlink()
    assert interrupted_import(store, "m.jsonl", ["import", "yt8m"], 0).startswith(
        f"interrupted: no feature was written to '{store}' (the store holds the 3 from before);")


def test_an_interrupted_import_counts_what_it_wrote_not_the_store(tmp_path, monkeypatch, capsys):
    """A second import into a store of 5 videos, interrupted after 2 of its own, said 'the store holds the
    features of 7 videos written so far': the earlier import's counted as this run's."""
    import os
    import time

    import numpy as np

    from s2vt.store import FeatureStore

    def features(folder, ids):
        folder.mkdir()
        for v in ids:
            np.save(folder / f"{v}.npy", np.ones((2, 4), np.float32))
        (folder.parent / f"{folder.name}.json").write_text(json.dumps({v: ["a cat"] for v in ids}))
        return ["import", "features", str(folder), "--captions", str(folder.parent / f"{folder.name}.json"),
                "--modality", "clip", "--split", "train", "--features", str(tmp_path / "store")]

    assert cli.main([*features(tmp_path / "a", [f"a{i}" for i in range(5)]), "--out", str(tmp_path / "a.jsonl")]) == 0
    for f in (tmp_path / "store" / "clip").glob("*.npy"):  # (an import some time ago)
        os.utime(f, (time.time() - 60, time.time() - 60))
    capsys.readouterr()
    write, calls = FeatureStore.write, []

    def write_two(self, *args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(args)
        return write(self, *args, **kwargs)
    monkeypatch.setattr(FeatureStore, "write", write_two)
    argv = [*features(tmp_path / "b", [f"b{i}" for i in range(4)]), "--out", str(tmp_path / "b.jsonl")]
    assert cli.main(argv) == 130
    err = capsys.readouterr().err
    assert err.startswith(f"interrupted: it wrote the features of 2 videos to the store {tmp_path / 'store'} "
                          "before it stopped (the store holds 7); the manifest ") and "Traceback" not in err, err
    assert len(err.splitlines()) == 1


def test_an_interrupted_import_counts_the_videos_its_importer_wrote(tmp_path, monkeypatch, capsys):
    """The count was the store's files changed since the run started (their mtimes, with a 50 ms slack), which
    an import just before, back to back, fell into: the importer counts the videos it writes
    (`progress["written"]`), a video once its files are all written (a Ctrl-C waits for them)."""
    import signal

    from s2vt.store import FeatureStore

    from .test_yt8m import shard_of

    store = tmp_path / "store"
    first = ["import", "yt8m", str(shard_of(tmp_path, "train0000.tfrecord", 3)), "--features", str(store)]
    assert cli.main([*first, "--out", str(tmp_path / "a.jsonl")]) == 0
    capsys.readouterr()
    write, calls = FeatureStore.write, []

    def ctrl_c_in_the_third_video(self, *args, **kwargs):
        calls.append(args[:2])
        if len(calls) == 5:  # (its rgb file, its audio one to come)
            signal.raise_signal(signal.SIGINT)
        return write(self, *args, **kwargs)
    monkeypatch.setattr(FeatureStore, "write", ctrl_c_in_the_third_video)
    argv = ["import", "yt8m", str(shard_of(tmp_path, "train0001.tfrecord", 4, 3)), "--features", str(store),
            "--out", str(tmp_path / "b.jsonl")]
    assert cli.main(argv) == 130
    err = capsys.readouterr().err
    assert err.startswith(f"interrupted: it wrote the features of 3 videos to the store {store} before it stopped "
                          "(the store holds 6); the manifest ") and len(err.splitlines()) == 1, err
    assert len(calls) == 6 and sorted(p.name for p in store.glob("*/*.npy")) == sorted(f"v{i}.npy" for i in range(6)
                                                                                     for _ in range(2))
    assert not (tmp_path / "b.jsonl").exists()


def test_a_signal_after_the_command_finished_is_one_line_or_none():
    """evaluate killed by a SIGTERM after it wrote its files (its process exiting) ended 143, no line."""
    import signal

    code = ("import os, signal, sys\nfrom s2vt.errors import exit_quietly_after\nexit_quietly_after('evaluate')\n"
            "print('table')\nos.kill(os.getpid(), signal.SIGTERM)\nimport time; time.sleep(5)\n")
    proc = run_cli("-c", code)
    assert proc.returncode == 143 and proc.stdout == "table\n"
    assert proc.stderr == "interrupted: while exiting, after evaluate had finished: nothing was cut short\n"
    # (an atexit function registered before, as METEOR's stop is: it runs in the last stretch, ignored there)
    code = ("import atexit, os, signal\natexit.register(lambda: os.kill(os.getpid(), signal.SIGTERM))\n"
            "from s2vt.errors import exit_quietly_after\nexit_quietly_after('evaluate')\n")
    proc = run_cli("-c", code)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_signal_after_an_interrupted_command_said_so_is_quiet():
    """A Ctrl-C pressed again once an interrupted command said `interrupted: ...` (its process exiting) was an
    "Exception ignored ... KeyboardInterrupt" traceback (extract, hostile trial): in a program's own run it
    ends the process at once, 130, no second line; in a caller's process nothing is changed."""
    import signal

    from s2vt.errors import quiet_once_interrupted

    code = ("import os, signal, sys, time\nfrom s2vt.errors import quiet_once_interrupted, running_as_program\n"
            "running_as_program('extract')\nprint('interrupted: 3 videos written', file=sys.stderr)\n"
            "quiet_once_interrupted()\nos.kill(os.getpid(), signal.SIGINT)\ntime.sleep(5)\n")
    proc = run_cli("-c", code)
    assert (proc.returncode, proc.stderr) == (130, "interrupted: 3 videos written\n")
    quiet_once_interrupted()  # (this process is pytest's: not running as a program)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_signal_once_the_command_returned_says_it_had_finished(tmp_path, capsys, monkeypatch):
    """A SIGTERM just after train's outputs were written (its last lines printing, or the command's
    function returned) said `train did not finish (...: none was written)`, exit 143."""
    import argparse
    import io
    import sys

    import s2vt.checkpoint
    import s2vt.engine
    import s2vt.options

    def interrupt(*a, **k):
        raise KeyboardInterrupt  # (what a Ctrl-C or SIGTERM raises there)
    monkeypatch.setattr(s2vt.options, "from_args", lambda cls, args, **kw: argparse.Namespace(out=args.out))
    monkeypatch.setattr(s2vt.engine, "train", lambda cfg: {"epoch": 1, "CIDEr": 0.5})
    monkeypatch.setattr(s2vt.checkpoint, "read_checkpoint", interrupt)
    code = cli.main(["train", "--out", str(tmp_path / "run")], program=False)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 130 and err == ["interrupted: while exiting, after train had finished: nothing was cut short"], err
    # any command: its function returned, the signal came as the output was flushed
    add = lambda p: None  # noqa: E731 (no arguments: the command is all that is run)
    monkeypatch.setitem(cli.COMMANDS, "score", ("score", add, lambda args: 0))
    class Interrupting(io.StringIO):
        flush = interrupt
    with monkeypatch.context() as m:
        m.setattr(sys, "stdout", Interrupting())
        code = cli.main(["score"], program=False)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 130 and err == ["interrupted: while exiting, after score had finished: nothing was cut short"], err
    # (before it returned: as before)
    monkeypatch.setitem(cli.COMMANDS, "score", ("score", add, interrupt))
    code = cli.main(["score"], program=False)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 130 and err[0].startswith("interrupted: score did not finish"), err


def test_a_signal_python_wrapped_while_a_class_was_made_is_said_as_the_signal(monkeypatch, capsys):
    """A SIGTERM while train.py first imported matplotlib (curves.png, after epoch 1) fell inside a class's
    `__set_name__`, which Python before 3.12 wraps in a RuntimeError: the user got a traceback and exit 1."""
    import pytest

    from s2vt import cli, errors

    class Descriptor:
        def __set_name__(self, owner, name):
            raise errors.Terminated  # (as the signal handler raises it at that moment)

    def make_class():
        type("Axes", (), {"xaxis_inverted": Descriptor()})

    with pytest.raises(errors.Terminated):  # (3.11: wrapped, unwrapped here; 3.12+: never wrapped)
        with errors.interrupts_unwrapped():
            make_class()
    with pytest.raises(RuntimeError):  # (any other RuntimeError is left as it is)
        with errors.interrupts_unwrapped():
            raise RuntimeError("a bug")

    def command(argv, finished):
        make_class()
    monkeypatch.setattr(cli, "run_command", command)
    assert cli.run_main(["score", "p.json"]) == 130
    err = capsys.readouterr().err
    assert err.startswith("interrupted: while starting") and "Traceback" not in err


@pytest.mark.parametrize("code", [130, 143, 0])
def test_a_signal_after_an_interrupted_command_said_so_is_no_second_line(monkeypatch, capsys, code):
    """A second Ctrl-C just after train had said `interrupted: no epoch finished ...` and returned 130 added
    `interrupted: while exiting, after train had finished: nothing was cut short` (trial 119): it had not
    finished, and had said so. Now nothing more is said; a command that did finish still says that line."""
    class SignalAtFlush:  # (stdout's flush after the command returned: where the second signal landed)
        def write(self, text):
            return len(text)

        def flush(self):
            raise KeyboardInterrupt
    monkeypatch.setattr("sys.stdout", SignalAtFlush())
    monkeypatch.setattr(cli, "run_command", lambda argv, finished: code)
    assert cli.run_main(["train", "--out", "run"]) == (code or 130)
    err = capsys.readouterr().err
    assert err == ("" if code else "interrupted: while exiting, after train had finished: nothing was cut short\n")


# (two videos: over one, score adds a note that CIDEr-D is 0 by its document frequencies)
SCORED = ('{"video_id": "a", "captions": ["a man walks"], "split": "test"}\n'
          '{"video_id": "b", "captions": ["a cat sleeps"], "split": "test"}\n',
          '{"a": "a man walks", "b": "a cat sleeps"}')


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")
def test_a_stdout_that_cannot_be_written_is_one_line(tmp_path, capsys, monkeypatch):
    """`s2vt score ... > /dev/full` (or a full disk) was an OSError traceback, exit 1; caption.py's the same
    after its first answer."""
    from .test_caption_cli import fake_caption

    (tmp_path / "man.jsonl").write_text(SCORED[0])
    (tmp_path / "preds.json").write_text(SCORED[1])
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "s2vt.cli", "score", "man.jsonl", "preds.json", "--json"],
                              stdout=full, stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"})
    assert (proc.returncode, proc.stderr) == (2, "error: cannot write to standard output: No space left on device\n")
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / name).write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    with open("/dev/full", "w") as full:
        monkeypatch.setattr("sys.stdout", full)
        code, _, err = fake_caption(capsys, monkeypatch, "a.mp4", "b.mp4", "--json")
        assert sys.stdout is full  # (put back as it was)
    # (the first answer's write failed: the run stopped there, as any output that fails mid-run stops it)
    assert (code, err) == (2, ["error: cannot write to standard output: No space left on device"])


def test_an_oserror_of_the_command_itself_keeps_its_traceback(monkeypatch):
    """Only stdout's own failure is the one line: any other OSError is a bug, raised as it is."""
    def fails(args):
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(cli.COMMANDS, "score", (*cli.COMMANDS["score"][:2], fails))
    with pytest.raises(OSError):
        cli.main(["score", "r.jsonl", "p.json"])


def test_a_closed_stdout_is_output_discarded(tmp_path):
    """`caption.py v.mp4 >&-` (sys.stdout None) was an AttributeError traceback, exit 1, whatever the run."""
    (tmp_path / "man.jsonl").write_text(SCORED[0])
    (tmp_path / "preds.json").write_text(SCORED[1])
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
    for argv, code, err in ((["-m", "s2vt.cli", "score", "man.jsonl", "preds.json", "--json"], 0, ""),
                            ([str(REPO / "caption.py"), "nope.mp4", "--checkpoint", "x.pt"], 2,
                             "error: nope.mp4: no such file\n")):
        proc = subprocess.run([sys.executable, *argv], stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env,
                              preexec_fn=lambda: os.close(1), timeout=300)
        assert (proc.returncode, proc.stderr) == (code, err)


@pytest.mark.parametrize("entry", [[str(REPO / "caption.py"), "v.mp4", "--checkpoint", "none.pt"],
                                   ["-m", "extract", "v.mp4", "--out", "o"]])
def test_a_signal_while_torch_loads_numpy_is_not_swallowed(tmp_path, entry):
    """torch's C start-up imports numpy and swallows a Ctrl-C that falls in that import: caption.py ran on
    (here: to its 'checkpoint not found'), numpy half-imported. numpy is imported first, so the signal is said."""
    import os

    (tmp_path / "sitecustomize.py").write_text(SIGNAL_WHILE_LOADING.format(sig="SIGINT").replace('"s2vt.options"',
                                                                                                 '"numpy"'))
    proc = run_cli(*entry, cwd=tmp_path, env={"PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}, timeout=120)
    assert proc.returncode == 130 and proc.stderr.startswith("interrupted: while starting"), proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "o").exists()


def test_a_stdout_that_fails_after_the_command_finished_says_so(monkeypatch, capsys):
    """`train.py ... > /dev/full`: every file written, the refit done, then stdout's last flush failed and
    the line read as a failed training; it says the command had finished."""
    from s2vt import cli

    def command(argv, finished):
        print("best.pt: gap 0.586")  # (buffered: the write fails at the flush after the command returned)
        return 0
    monkeypatch.setattr(cli, "run_command", command)
    with open("/dev/full", "w") as full:
        monkeypatch.setattr("sys.stdout", full)
        code = cli.run_main(["train", "--out", "run"])
    assert code == 2 and capsys.readouterr().err == ("error: cannot write to standard output: No space left on device"
                                                     " (after train had finished: only what it printed is lost)\n")


def test_the_wrote_lines_escape_the_names_they_print(tmp_path, monkeypatch, capsys):
    """(hostile trial) The `wrote` lines of export, import and evaluate printed --out raw: a newline in it split the
    line, an escape sequence (\\x1b[31m) reached the terminal. Escaped now, as the error: and extract lines are."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.json").write_text(json.dumps({"video7010": "a man plays a guitar"}))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.mp4").write_bytes(b"not decoded by import folder")
    odd, said = "a\nb\x1b[31m", "a\\nb\\x1b[31m"
    assert cli.main(["export", "p.json", "--format", "coco", "--out", odd + ".zip"]) == 0
    assert capsys.readouterr().err == f"wrote {said}.zip: 1 video\n"
    assert cli.main(["import", "folder", "d", "--out", odd + ".jsonl"]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"wrote {said}.jsonl: 1 video (") and err.count("\n") == 1, err
    line = cli.wrote_evaluate(argparse.Namespace(out=odd + ".json", html=odd + ".html"),
                              [odd + ".json", odd + ".metrics.json"])
    assert line == (f"wrote {said}.json (the predictions), {said}.metrics.json (their metrics) and {said}.html "
                    "(the report)")


def test_help_to_a_stdout_that_cannot_be_written_is_said(tmp_path):
    """`s2vt --help > /dev/full` exited 0 with nothing said: argparse swallows its own write's OSError."""
    for args in (["-m", "s2vt.cli", "--help"], [str(REPO / "train.py"), "--help"]):
        with open("/dev/full", "w") as full:
            proc = subprocess.run([sys.executable, *args], stdout=full, stderr=subprocess.PIPE, text=True,
                                  cwd=tmp_path, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert (proc.returncode, proc.stderr) == (2, "error: cannot write to standard output: No space left on "
                                                     "device\n"), proc.stderr


@pytest.mark.parametrize("out", ["new.json/", "new.json/."])
@pytest.mark.parametrize("command, said", [
    (["evaluate", "--checkpoint", "model.pt", "--manifest", "manifest.jsonl", "--out"], " (--out: the predictions JSON)"),
    (["evaluate", "--checkpoint", "model.pt", "--manifest", "manifest.jsonl", "--out", "p.json", "--html"],
     " (--html: the report)"),
    (["export", "q.json", "--format", "coco", "--out"], ""),
    (["import", "folder", "videos", "--out"], ""),
])
def test_a_file_output_ending_with_a_slash_is_said_to_name_a_folder(command, said, out, tmp_path, capsys,
                                                                     monkeypatch):
    """`--out new.json/` (nothing there) was called "a folder" by evaluate, told to "name it .zip" by export and
    written as the file new.json by import (hostile trial): the path names a folder where a file is expected."""
    monkeypatch.chdir(tmp_path)
    for name in ("model.pt", "manifest.jsonl", "q.json", "videos/a.mp4"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(name)
    before = sorted(tmp_path.rglob("*"))
    assert cli.main([*command, out]) == 2
    tail = out.rpartition("/")[1:]
    assert one_line(capsys) == (f"error: {out} ends with '{''.join(tail)}', so it names a folder, not a file: "
                                f"name a file to write{said}\n")
    assert sorted(tmp_path.rglob("*")) == before


def refused_in_stand_ins(argv, tmp_path, monkeypatch) -> int:
    """`cli.main(argv)` run in tmp_path, where stand-ins of every input file the commands below name exist."""
    monkeypatch.chdir(tmp_path)
    for name in ("model.pt", "manifest.jsonl", "videos/a.mp4", "features/meta.json"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(name)
    (tmp_path / "p.json").write_text('{"v1": "a cat"}')
    return cli.main(argv)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
@pytest.mark.parametrize("command, out", [
    (["evaluate", "--checkpoint", "model.pt", "--manifest", "manifest.jsonl", "--out"], "/proc/x.json"),
    (["export", "p.json", "--format", "coco", "--out"], "/proc/x.zip"),
    (["import", "folder", "videos", "--out"], "/proc/x.jsonl"),
    (["train", "--manifest", "manifest.jsonl", "--features", "features", "--out"], "/proc/r"),
    (["demo", "--out"], "/proc/r"),
])
def test_an_output_in_a_folder_that_takes_no_new_file_says_why(command, out, tmp_path, capsys, monkeypatch):
    """`--out /proc/x.json` said "cannot write /proc: No such file or directory", a folder that is there (the
    system's word for a new name in /proc): the output is named, and that /proc takes nothing new."""
    assert refused_in_stand_ins([*command, out], tmp_path, monkeypatch) == 2
    said = one_line(capsys)
    assert f"{out}:" in said and said.endswith(": /proc takes nothing new ('No such file or directory', though "
                                               "/proc is there: /proc holds the kernel's files): name another "
                                               "output\n"), said


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs /sys")
@pytest.mark.parametrize("command, out", [
    (["evaluate", "--checkpoint", "model.pt", "--manifest", "manifest.jsonl", "--out"], "/sys/x.json"),
    (["export", "p.json", "--format", "coco", "--out"], "/sys/kernel/x.zip"),
    (["import", "folder", "videos", "--out"], "/sys/x.jsonl"),
    (["train", "--manifest", "manifest.jsonl", "--features", "features", "--out"], "/sys/kernel/r"),
])
def test_an_output_under_sys_says_the_kernel_takes_nothing_new(command, out, tmp_path, capsys, monkeypatch):
    """`--out /sys/x.json` said only "cannot write /sys/x.json: Permission denied" ('Operation not permitted' for
    a folder), even to root, with no advice (hostile trial): /sys is said to take nothing new, as /proc is."""
    assert refused_in_stand_ins([*command, out], tmp_path, monkeypatch) == 2
    said = one_line(capsys)
    folder = os.path.dirname(out)
    assert said.startswith(f"error: cannot write {out}: {folder} takes nothing new ('") and said.endswith(
        "': /sys holds the kernel's files): name another output\n"), said
    assert not os.path.lexists(out)


def test_a_demo_folder_through_a_symbolic_link_loop_is_called_one(tmp_path):
    """The demo called a link loop on its --out's way 'a broken symbolic link (..., which does not exist): remove
    it, or make what it points to', which no target made could mend (hostile trial)."""
    from s2vt.demo import DemoFolderError, prepare_folder

    (tmp_path / "loop").symlink_to("loop")
    out = tmp_path / "loop" / "sub"
    with pytest.raises(DemoFolderError) as refused:
        prepare_folder(out, False)
    assert str(refused.value) == (f"--out {out}: cannot write there: {tmp_path / 'loop'} is a symbolic link loop "
                                  "(to loop): remove it, or point it elsewhere")


@pytest.mark.parametrize("command, prog, left", [
    (["train", "--manifest", "manifest.jsonl", "--features", "features", "--out", "r1"], "s2vt train", "-- "),
    (["evaluate", "--checkpoint", "model.pt", "--manifest", "manifest.jsonl", "--out", "p1.json"], "s2vt evaluate",
     "-- "),
    (["export", "q.json", "--format", "coco", "--out", "q1.zip"], "s2vt export", "-- "),
    (["import", "folder", "videos", "--out", "m1.jsonl"], "s2vt import folder", "-- "),
    # (a positional after the options: argparse drops the '--' from what it leaves over)
    (["export", "--format", "coco", "--out", "q1.zip", "q.json"], "s2vt export", ""),
    (["import", "mlds", "--out", "m1.jsonl", "videos"], "s2vt import mlds", ""),
])
def test_an_out_after_double_dash_beside_an_earlier_one_is_named(command, prog, left, tmp_path, capsys, monkeypatch):
    """`train.py --out a1 -- --out a2` said only "unrecognized arguments: -- --out a2" (the hint that '--' made
    the second --out a file name came only when no --out was given before it; hostile trial); `s2vt export
    --format coco --out a1.zip p.json -- --out a2.zip` had no hint at all, and train's said '--out' was taken as a
    file name by a command that takes none (hostile trial)."""
    monkeypatch.chdir(tmp_path)
    for name in ("model.pt", "manifest.jsonl", "q.json", "videos/a.mp4", "features/meta.json"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(name)
    before = sorted(tmp_path.rglob("*"))
    assert cli.main([*command, "--", "--out", "x2"]) == 2
    fate = "is not read as an option" if command[0] in ("train", "evaluate") else "is taken as a file name"
    assert one_line(capsys) == (f"error: unrecognized arguments: {left}--out x2; --out after '--' {fate}: "
                                f"put options before '--' (see {prog} --help)\n")
    assert sorted(tmp_path.rglob("*")) == before


def test_a_lock_of_a_bare_pid_is_not_said_to_be_s2vts_run(tmp_path, capsys, monkeypatch):
    """A lock holding a pid alone (as s2vt wrote before it recorded a start time) of any live process, pid 1
    there, was said as "another s2vt evaluate (pid 1) is writing it": with no start time, whether that process
    is s2vt's cannot be told (the pid may be reused; hostile trial). A lock s2vt writes now is said as before."""
    from s2vt.locks import TRAIN_LOCK, busy_line, lock_owner, lock_text

    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.pt").write_text("x")
    (tmp_path / "m.jsonl").write_text('{"video_id": "v1", "split": "test", "captions": ["a cat"]}\n')
    (tmp_path / ".p.json.lock").write_text("1\n")
    assert cli.main(["evaluate", "--checkpoint", "model.pt", "--manifest", "m.jsonl", "--out", "p.json"]) == 2
    assert one_line(capsys) == ("error: --out p.json: the lock file .p.json.lock names pid 1, a running process that "
                                "may not be another s2vt evaluate (the lock holds a process id alone, as older s2vt "
                                "versions wrote it): remove .p.json.lock if no s2vt command is running, or name "
                                "another --out\n")
    assert (tmp_path / ".p.json.lock").read_text() == "1\n" and not (tmp_path / "p.json").exists()
    run = tmp_path / "run"
    run.mkdir()
    (run / TRAIN_LOCK).write_text(f"{os.getpid()}\n")
    assert cli.main(["train", "--manifest", "m.jsonl", "--features", "f", "--out", str(run)]) == 2
    assert one_line(capsys) == (f"error: {run}: the lock file {run / TRAIN_LOCK} names pid {os.getpid()}, a running "
                                "process that may not be another training run (the lock holds a process id alone, as "
                                f"older s2vt versions wrote it): remove {run / TRAIN_LOCK} if no s2vt command is "
                                "running, or pass another --out\n")
    (run / TRAIN_LOCK).write_text(lock_text())  # (this process's own lock, as written now: a run of s2vt's)
    assert busy_line("x", "another training run", lock_owner(run / TRAIN_LOCK), "is writing there", "",
                     run / TRAIN_LOCK) == (f"x: another training run (pid {os.getpid()}) is writing there: wait for it "
                                           f"to end (if none runs, remove {run / TRAIN_LOCK})")


def test_a_lock_without_a_start_time_is_not_said_to_be_s2vts_run(tmp_path, capsys, monkeypatch):
    """A lock 'PID - HOST' (this host's; '-': no start time, where the system gave none when it was written) of
    any live process, pid 1 there, was said as "another s2vt evaluate (pid 1) is writing it", though without a
    start time a process that got the pid since cannot be told from s2vt's (hostile trial): said as unconfirmed,
    with how to remove it."""
    from s2vt.locks import this_host

    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.pt").write_text("x")
    (tmp_path / "m.jsonl").write_text('{"video_id": "v1", "split": "test", "captions": ["a cat"]}\n')
    (tmp_path / ".p.json.lock").write_text(f"1 - {this_host()}\n")
    assert cli.main(["evaluate", "--checkpoint", "model.pt", "--manifest", "m.jsonl", "--out", "p.json"]) == 2
    assert one_line(capsys) == ("error: --out p.json: the lock file .p.json.lock names pid 1, a running process that "
                                "may not be another s2vt evaluate (the lock records no start time beside it, so a "
                                "process that got that pid since cannot be told from the one that took the lock): "
                                "remove .p.json.lock if no s2vt command is running, or name another --out\n")
    assert (tmp_path / ".p.json.lock").read_text() == f"1 - {this_host()}\n" and not (tmp_path / "p.json").exists()


def test_a_lock_whose_start_time_cannot_be_read_now_is_not_said_to_be_s2vts_run(tmp_path, capsys, monkeypatch):
    """A lock 'PID START HOST' of a live process whose /proc/PID/stat cannot be read now (another user's process
    where /proc hides it, a system without /proc) was said as "another s2vt evaluate (pid 1) is writing it",
    though its start time, unread, confirmed nothing (hostile trial): said as unconfirmed, with how to remove it.
    Its start time read and the same, it is s2vt's run, as before."""
    from s2vt import locks
    from s2vt.locks import busy_line, lock_owner, this_host

    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.pt").write_text("x")
    (tmp_path / "m.jsonl").write_text('{"video_id": "v1", "split": "test", "captions": ["a cat"]}\n')
    (tmp_path / ".p.json.lock").write_text(f"1 12345 {this_host()}\n")
    monkeypatch.setattr(locks, "process_start", lambda pid: None)  # (as /proc/1/stat unreadable)
    assert cli.main(["evaluate", "--checkpoint", "model.pt", "--manifest", "m.jsonl", "--out", "p.json"]) == 2
    assert one_line(capsys) == ("error: --out p.json: the lock file .p.json.lock names pid 1, a running process that "
                                "may not be another s2vt evaluate (the start time the lock records cannot be checked: "
                                "/proc/1/stat cannot be read now, so a process that got that pid since cannot be told "
                                "from the one that took the lock): remove .p.json.lock if no s2vt command is running, "
                                "or name another --out\n")
    assert (tmp_path / ".p.json.lock").read_text() == f"1 12345 {this_host()}\n" and not (tmp_path / "p.json").exists()
    monkeypatch.setattr(locks, "process_start", lambda pid: "12345")  # (read, and the lock's: s2vt's run)
    assert busy_line("x", "another s2vt evaluate", lock_owner(tmp_path / ".p.json.lock"), "is writing it", "",
                     tmp_path / ".p.json.lock").startswith("x: another s2vt evaluate (pid 1) is writing it")


def test_the_demo_started_as_a_module_says_bad_input_in_one_line(tmp_path, capsys):
    """`python -m s2vt.demo --out loop` (a link loop), `--out /proc/d` or `--out ""` was a DemoFolderError or
    SettingError traceback, exit 1: only `s2vt demo` said it in one line (hostile trial)."""
    from s2vt.demo import main as demo_main

    (tmp_path / "loop").symlink_to("loop")
    for out, said in ((tmp_path / "loop", "goes through a symbolic link loop"), ("", "--out is empty"),
                      (tmp_path / "file" / "d", "is a file, not a folder")):
        (tmp_path / "file").write_text("x")
        assert demo_main(["--out", str(out)]) == 2
        assert said in one_line(capsys)


def test_a_chain_of_links_to_a_missing_file_names_the_missing_file(tmp_path, capsys, monkeypatch):
    """`--out m3.zip`, m3.zip -> mine.zip -> subs/a.zip (missing), said 'to mine.zip, which does not exist', though
    mine.zip is there, a link (hostile trial): the file missing at the chain's end is named, and the hops on the way."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.json").write_text('{"v1": "a cat"}')
    (tmp_path / "mine.zip").symlink_to(Path("subs") / "a.zip")
    (tmp_path / "m3.zip").symlink_to("mine.zip")
    assert cli.main(["export", "p.json", "--format", "coco", "--out", "m3.zip"]) == 2
    assert one_line(capsys) == ("error: cannot write m3.zip: m3.zip is a broken symbolic link (to subs/a.zip, which "
                                "does not exist, through mine.zip): remove it, or make what it points to\n")
    (tmp_path / "one.zip").symlink_to("gone.zip")  # (one hop: as before)
    assert cli.main(["export", "p.json", "--format", "coco", "--out", "one.zip"]) == 2
    assert one_line(capsys) == ("error: cannot write one.zip: one.zip is a broken symbolic link (to gone.zip, which "
                                "does not exist): remove it, or make what it points to\n")


def test_a_lock_cut_short_of_its_newline_is_read_alike_by_train_and_evaluate(tmp_path):
    """A live run's lock "PID START HOST" without its trailing newline (a write cut short: a full disk) was
    read two ways (hostile trial): train.py --resume called it "not s2vt's lock (a file that holds something
    other than a process id)", false, while evaluate ignored it and wrote into the run folder. Now the
    whole line without its newline is s2vt's lock for every command (live: refused; its pid gone: stale),
    a line cut shorter is refused in true words, and evaluate never writes where such a lock stands."""
    import os

    from s2vt.engine import refuse_training
    from s2vt.resume import RunFolderError
    from s2vt.fileio import OutputError
    from s2vt.locks import TRAIN_LOCK, lock_owner, lock_text
    from s2vt.predict import refuse_training_runs

    run = tmp_path / "run"
    run.mkdir()
    lock = run / TRAIN_LOCK
    me = os.getpid()
    lock.write_text(lock_text().rstrip("\n"))
    assert lock_owner(lock) == me
    with pytest.raises(RunFolderError, match=rf"another training run \(pid {me}\) is writing there"):
        refuse_training(run)
    with pytest.raises(OutputError, match=rf"cannot write .*preds3.json: a training run \(pid {me}\) is writing"):
        refuse_training_runs([(run / "preds3.json", "--out")])
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock.write_text(lock_text(int(gone.stdout)).rstrip("\n"))
    assert lock_owner(lock) is None  # (stale, as with its newline)
    refuse_training_runs([(run / "preds3.json", "--out")])
    for cut in (f"{me} 12", f"{me}", f"{me} ", f"{me} 12 "):  # (its pid or start may be cut: cannot be told)
        lock.write_text(cut)
        with pytest.raises(OutputError, match=r"is not s2vt's lock \(not in s2vt's lock format: no trailing newline"):
            lock_owner(lock)
        with pytest.raises(OutputError, match=rf"cannot write .*preds3.json: .*{TRAIN_LOCK} is not s2vt's lock"):
            refuse_training_runs([(run / "preds3.json", "--out")])
    lock.write_text("notes\n")  # (a user's file of that name: evaluate no longer writes past it either)
    with pytest.raises(OutputError, match=r"cannot write .*preds3.json: .* is not s2vt's lock"):
        refuse_training_runs([(run / "preds3.json", "--out")])


def test_an_output_through_a_link_is_named_as_typed_by_import_and_train(tmp_path, monkeypatch, capsys):
    """`import folder ... --out devnull.json` (a link to /dev/null) said "cannot write /dev/null", `--out dirlink.json`
    (a link to a folder) "cannot write .../realdir", and `train.py --out devnull.json` "devnull.json is a device"
    (hostile trial): named by the link's target, or the link said to be the device. Now as evaluate words it: the
    name typed, "a link to TARGET, WHAT"."""
    manifest, features = make_store(tmp_path / "data", videos=12)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.mp4").write_bytes(b"not decoded by a folder import")
    (tmp_path / "realdir").mkdir()
    monkeypatch.chdir(tmp_path)
    Path("devnull.json").symlink_to(os.devnull)
    Path("dirlink.json").symlink_to("realdir")
    for kind in ("folder", "msvd"):
        if kind == "msvd":
            Path("corpus.csv").write_text("VideoID,Start,End,WorkerID,Source,AnnotationTime,Language,Description\n"
                                          "a,1,2,0,x,1,English,a cat runs\n")
            (tmp_path / "d" / "a_1_2.avi").write_bytes(b"not decoded by an import")
        args = ["import", "folder", "d"] if kind == "folder" else ["import", "msvd", "corpus.csv", "--videos", "d"]
        assert cli.main([*args, "--out", "devnull.json"]) == 2
        assert one_line(capsys) == (f"error: cannot write devnull.json: it is a link to {os.devnull}, a device, not a "
                                    "regular file: remove the link, or name another output\n")
        assert cli.main([*args, "--out", "dirlink.json"]) == 2
        assert one_line(capsys) == (f"error: cannot write dirlink.json: it is a link to {tmp_path / 'realdir'}, a "
                                    "folder, not a regular file: remove the link, or name another output\n")
    assert cli.main(["train", "--manifest", str(manifest), "--features", str(features), "--out", "devnull.json",
                     *TINY_TRAIN]) == 2
    assert one_line(capsys) == (f"error: cannot write devnull.json: devnull.json is a link to {os.devnull}, a device, "
                                "not a folder\n")
    assert os.path.islink("devnull.json") and list((tmp_path / "realdir").iterdir()) == []


def test_what_a_name_holds_is_said_from_one_table(tmp_path, monkeypatch):
    """`fileio.not_a_file` (an input's words: 'a pipe (FIFO)'), `fileio.special_file` (an output's: 'a pipe') and
    `store.not_a_folder` each kept their own table of file types (review): all three now read FILE_KINDS, and the two
    that name a link to nothing share its words for a loop."""
    import stat

    from s2vt import fileio
    from s2vt.store import not_a_folder

    fifo, loop = tmp_path / "fifo", tmp_path / "loop"
    os.mkfifo(fifo)
    loop.symlink_to("loop")
    assert (fileio.not_a_file(fifo), fileio.special_file(os.stat(fifo).st_mode), not_a_folder(fifo)) == (
        "a pipe (FIFO)", "a pipe", "a pipe")
    assert fileio.not_a_file(loop) == not_a_folder(loop) == "a symbolic link loop (to loop)"
    monkeypatch.setattr(fileio, "FILE_KINDS", ((stat.S_ISFIFO, "a named pipe", "a named pipe (FIFO)"),))
    assert (fileio.not_a_file(fifo), fileio.special_file(os.stat(fifo).st_mode), not_a_folder(fifo)) == (
        "a named pipe (FIFO)", "a named pipe", "a named pipe")


def test_features_naming_a_file_says_so_in_train_and_evaluate(tmp_path, monkeypatch, capsys):
    """`train.py --features F` and `s2vt evaluate --features F`, F a regular file, said "feature store not found"
    (hostile trial), though F is there, while extract says "is a file, not a folder". Now they say what F is
    (`store.not_a_folder`: a file, a pipe, a link to nothing); a path with nothing there is still "not found"."""
    manifest, features = make_store(tmp_path / "data", videos=12)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--manifest", str(manifest), "--features", str(features), "--out", "run",
                     *TINY_TRAIN, "--quiet"]) == 0
    capsys.readouterr()
    Path("F").write_text("not a store\n")
    os.mkfifo("P")
    Path("dang").symlink_to("nothing")
    said = {"F": "F: a file, not a folder", "P": "P: a pipe, not a folder",
            "dang": "dang: a link to a missing target (nothing), not a folder"}
    for name, what in said.items():
        for argv in (["train", "--manifest", str(manifest), "--features", name, "--out", "run2", *TINY_TRAIN],
                     ["evaluate", "--checkpoint", "run/best.pt", "--manifest", str(manifest), "--features", name,
                      "--out", "p.json"]):
            assert cli.main(argv) == 2, argv
            assert one_line(capsys) == (f"error: {what}: --features names a feature store (the folder extract "
                                        "writes)\n"), argv
    assert cli.main(["train", "--manifest", str(manifest), "--features", "nosuch", "--out", "run2", *TINY_TRAIN]) == 2
    assert one_line(capsys) == ("error: nosuch: feature store not found (python -m extract writes one from videos, "
                                "s2vt import from precomputed features)\n")
    assert not Path("run2").exists() and not Path("p.json").exists()


def setup_list(name: str) -> list[str]:
    """A list setup.py declares at top level (SERVE), read without running setup.py."""
    import ast
    tree = ast.parse((REPO / "setup.py").read_text())
    return next(ast.literal_eval(node.value) for node in tree.body
                if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name)


def test_a_missing_serve_extra_names_an_install_that_works_where_s2vt_is(monkeypatch):
    """It said `pip install -e ".[serve]"`, which fails outside the checkout ('does not appear to be a Python
    project') (hostile trial): from a checkout, the checkout's absolute path; installed without one, the
    extra's requirements themselves (setup.py's SERVE, as the installed metadata lists them)."""
    import importlib.metadata
    import shlex

    from s2vt import errors
    from s2vt.serve import require_serve_extra

    monkeypatch.setitem(sys.modules, "fastapi", None)  # (import fastapi now fails as if not installed)
    with pytest.raises(errors.UserError) as e:
        require_serve_extra()
    assert str(e.value).endswith(f"pip install -e {shlex.quote(str(REPO) + '[serve]')}"), str(e.value)
    assert errors.extra_install_hint("bench") == f"pip install -e {shlex.quote(str(REPO) + '[bench]')}"

    monkeypatch.setattr(errors, "checkout_root", lambda: None)  # (installed: no setup.py beside the package)
    monkeypatch.setattr(importlib.metadata, "requires", lambda name: [
        "numpy", 'pytest>=7; extra == "test"', *(f'{r}; extra == "serve"' for r in setup_list("SERVE"))])
    assert errors.extra_install_hint("serve") == "pip install " + shlex.join(setup_list("SERVE"))

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)
    monkeypatch.setattr(importlib.metadata, "requires", not_installed)  # (neither: a placeholder, not ".")
    assert errors.extra_install_hint("serve") == "pip install 'S2VT_SOURCE[serve]' (the folder holding setup.py)"


def test_version_is_said_and_declared_once(capsys):
    """`s2vt --version` was 'unrecognized arguments' (hostile trial): now `s2vt 0.1.0`, the version
    s2vt/__init__.py declares and setup.py reads from there (not importing the package: torch)."""
    import re

    import s2vt

    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out == f"s2vt {s2vt.__version__}\n"
    setup = (REPO / "setup.py").read_text(encoding="utf-8")
    assert not re.search(r"""version\s*=\s*["']""", setup), "setup.py declares the version a second time"
    assert "__version__" in setup and "import s2vt" not in setup


def test_a_forked_child_under_torchrun_does_not_read_its_launcher_as_gone(monkeypatch):
    """end_with_launcher compared the parent with the one recorded when errors.py was imported; a child forked
    after the import inherited its parent's, read as its launcher gone, and sent itself SIGTERM (review: exit
    -15). The record is the child's own parent after a fork."""
    import multiprocessing

    from s2vt import errors

    monkeypatch.setenv("LOCAL_RANK", "0")

    def child():
        errors.end_with_launcher()
        os._exit(7)  # (alive after the call)

    proc = multiprocessing.get_context("fork").Process(target=child)
    proc.start()
    proc.join(60)
    assert proc.exitcode == 7, proc.exitcode


@pytest.mark.parametrize("env, silent", [
    ({"TORCHELASTIC_RUN_ID": "x", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "RANK": "1"}, True),
    ({"TORCHELASTIC_RUN_ID": "x", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "RANK": "0"}, False),
    ({"TORCHELASTIC_RUN_ID": "x", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2", "RANK": "3"}, False),  # (2 machines)
    ({"WORLD_SIZE": "2", "RANK": "1"}, False),  # (a cluster's variables, no torchrun)
])
def test_a_command_line_refusal_is_left_to_rank_0_only_on_one_machine_under_torchrun(env, silent):
    """Rank 0 alone says a refusal of the command line under a one-machine torchrun; a cluster that sets RANK and
    WORLD_SIZE for every process (no torchrun), or a launch over several machines (a path one of them lacks), left
    a command that exited 2 saying nothing."""
    proc = run_cli("-m", "s2vt.cli", "export", "--format", "nope",
                   env={"TORCHELASTIC_RUN_ID": None, "LOCAL_WORLD_SIZE": None, **env})
    assert proc.returncode == 2
    assert (proc.stderr == "") == silent, proc.stderr


def test_a_start_again_line_with_a_newline_in_a_path_stays_one_line_and_pastes_back():
    """`interrupted:` lines printed their commands with shlex: a newline in a file name stayed a newline inside
    '...', which broke the line in two (left from session 26). Now such a word is bash's $'...', escaped: one
    line, and bash reads it back as the same word."""
    import shutil
    import subprocess

    from s2vt.errors import again_line, shell_join, shell_quote

    words = ["plain", "a b", "new\nline", "it's\ttab", "bell\x07", "sep\u2028x", "c1\x85", "bad\udcff", "back\\slash'"]
    joined = shell_join(words)
    assert "\n" not in joined and "\u2028" not in joined and shell_quote("a b") == "'a b'"
    assert shell_quote("new\nline") == "$'new\\x0aline'" and shell_quote("bad\udcff") == "$'bad\\xff'"
    line = again_line(["evaluate", "--out", "x\ny.json"])
    assert "\n" not in line and line.endswith("--out $'x\\x0ay.json'")
    bash = shutil.which("bash")
    if bash:  # (the words bash reads back, as bytes: the undecodable one is its byte)
        for env in ({}, {"LC_ALL": "C"}):  # (\u0085 was read back in a UTF-8 locale only; trial 121)
            got = subprocess.run([bash, "-c", f"printf '%s\\0' {joined}"], capture_output=True, check=True,
                                 env={**os.environ, **env}).stdout
            assert got.split(b"\0")[:-1] == [os.fsencode(w) for w in words], env


def test_the_interrupted_lines_of_train_and_evaluate_stay_one_line_with_a_newline_in_out(tmp_path):
    """train.py's `interrupted:` line and evaluate's "not written" paths printed --out raw: a newline in it
    split the line in two or three (new-user trial); the command to start again stays pasteable."""
    import argparse
    import time

    from s2vt import cli

    out = tmp_path / "a\nb"
    out.mkdir()
    (out / "last.pt").write_bytes(b"")  # (a last.pt of an earlier run: "holds the earlier run, as it was")
    line = cli.interrupted_line(str(out), time.time() + 60, 0)
    assert "\n" not in line and line == f"interrupted: no epoch finished; {tmp_path}/a\\nb holds the earlier run, as it was"
    args = argparse.Namespace(checkpoint="run/best.pt", split="test", out=str(tmp_path / "e\nf.json"), html=None,
                              force=False, argv=["evaluate", "--out", str(tmp_path / "e\nf.json")])
    line = cli.interrupted_evaluate(args, [])
    assert "\n" not in line and f"{tmp_path}/e\\nf.json and " in line
    assert line.endswith(f"--out $'{tmp_path}/e\\x0af.json'"), line


def test_a_warning_stays_one_line_with_a_newline_or_an_escape_sequence_in_a_name():
    """warnings.warn's lines went out raw: a manifest named 'm\\n\\x1b[2Jw.jsonl' split a warning in two and
    cleared the screen (trial 122)."""
    from s2vt.errors import one_line_warning

    assert one_line_warning("m\n\x1b[2Jw.jsonl: ignoring 1 blank captions", UserWarning, "f.py", 1) == \
        "warning: m\\n\\x1b[2Jw.jsonl: ignoring 1 blank captions\n"


def test_one_line_tells_a_c1_character_from_a_byte_and_shows_invisible_reordering_characters():
    """U+0085 and a non-UTF-8 name's byte 0x85 were both shown as \\x85; a right-to-left override (U+202E), a
    zero-width space or a byte-order mark went out as they are, reordering or hiding a line's text (trial 122)."""
    from s2vt.errors import one_line, shell_quote

    assert one_line("c1\x85") == "c1\\u0085" and one_line("byte\udc85") == "byte\\x85"
    assert one_line("gpj.\u202eexe \u200bx\ufeff") == "gpj.\\u202eexe \\u200bx\\ufeff"
    assert shell_quote("a\u202eb") == "$'a\\xe2\\x80\\xaeb'" and one_line("汉字 é ok") == "汉字 é ok"
