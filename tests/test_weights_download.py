"""`s2vt weights download/list` against a loopback HTTP server: good file, wrong hash, a dropped
connection resumed with a Range request, 404; a failed download never leaves a loadable file."""
import errno
import hashlib
import io
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import torch
from torch import nn

from extract.backbones import download as dl
from extract.backbones.weights import find_weights

from .conftest import run_cli, run_without_stderr


class Handler(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    drop_once: set[str] = set()  # paths whose first full answer stops halfway
    log: list[tuple[str, str | None]] = []

    def do_GET(self):  # noqa: N802
        self.log.append((self.path, self.headers.get("Range")))
        data = self.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = int(self.headers["Range"].split("=")[1].rstrip("-")) if self.headers.get("Range") else 0
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        if self.path in self.drop_once and not start:
            self.drop_once.discard(self.path)
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return
        self.wfile.write(data[start:])

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def state_bytes(module: nn.Module) -> bytes:
    buf = io.BytesIO()
    torch.save(module.state_dict(), buf)
    return buf.getvalue()


def hashed(stem: str, data: bytes) -> str:
    """A file name carrying the first 8 hex digits of its content's sha256, as torchvision's do."""
    return f"{stem}-{hashlib.sha256(data).hexdigest()[:8]}.pth"


def serve(name: str, data: bytes, drop: bool = False) -> str:
    Handler.files[f"/{name}"] = data
    if drop:
        Handler.drop_once.add(f"/{name}")
    return name


def left_files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_good_file_and_already_there(server, tmp_path, capsys):
    data = state_bytes(nn.Linear(8, 4))
    name = serve(hashed("good", data), data)
    table = {"good": dl.Remote("good", name, f"{server}/{name}")}
    assert dl.download(["good"], tmp_path, table) == 0
    assert (tmp_path / name).read_bytes() == data and left_files(tmp_path) == [name]
    Handler.log.clear()
    assert dl.download(["good"], tmp_path, table) == 0  # verified copy present: no request
    assert Handler.log == [] and "already there (verified)" in capsys.readouterr().err


def test_wrong_hash_leaves_nothing(server, tmp_path, capsys):
    data = state_bytes(nn.Linear(8, 4))
    name = serve(hashed("bad", data).replace("-", "-0"), data)  # the name's hash is not the content's
    table = {"bad": dl.Remote("bad", name, f"{server}/{name}")}
    assert dl.download(["bad"], tmp_path, table) == 1
    err = capsys.readouterr().err
    assert "wrong file (sha256" in err and len(err.strip().splitlines()) == 1
    assert left_files(tmp_path) == []


def test_dropped_connection_resumes_with_range(server, tmp_path):
    data = state_bytes(nn.Linear(64, 32))
    name = serve(hashed("drop", data), data, drop=True)
    Handler.log.clear()
    table = {"drop": dl.Remote("drop", name, f"{server}/{name}")}
    assert dl.download(["drop"], tmp_path, table) == 0
    assert Handler.log == [(f"/{name}", None), (f"/{name}", f"bytes={len(data) // 2}-")]
    assert (tmp_path / name).read_bytes() == data and left_files(tmp_path) == [name]


def test_resume_of_a_part_left_by_an_earlier_run(server, tmp_path):
    data = state_bytes(nn.Linear(16, 8))
    name = serve(hashed("part", data), data)
    (tmp_path / f".part-{name}").write_bytes(data[:100])
    Handler.log.clear()
    assert dl.fetch(dl.Remote("part", name, f"{server}/{name}"), tmp_path) == tmp_path / name
    assert Handler.log == [(f"/{name}", "bytes=100-")] and (tmp_path / name).read_bytes() == data


def test_404_and_strict_load_check(server, tmp_path, capsys):
    table = {"gone": dl.Remote("gone", "gone.pth", f"{server}/gone.pth"),
             # no hash in the name: verified by a strict load into its architecture
             "arch": dl.Remote("arch", "arch.pth", f"{server}/arch.pth", dl.strict_load(lambda: nn.Linear(8, 4)))}
    serve("arch.pth", state_bytes(nn.Linear(8, 3)))  # a shape the architecture does not have
    assert dl.download(["gone", "arch"], tmp_path, table) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "HTTP 404" in err[0], err
    assert "wrong file (not Linear weights (weight is [3, 8], not [4, 8]; 2 of wrong shape))" in err[1], err
    assert "Error(s) in loading" not in err[1] and "torch.Size" not in err[1]  # (not torch's own text)
    assert left_files(tmp_path) == []
    serve("arch.pth", state_bytes(nn.Linear(8, 4)))
    assert dl.download(["arch"], tmp_path, table) == 0 and left_files(tmp_path) == ["arch.pth"]


def test_a_garbage_weights_file_is_our_one_line_without_torchs_advice(server, tmp_path, capsys):
    # torch's UnpicklingError advises weights_only=False (runs the file's code) over several lines
    import datetime

    saved = io.BytesIO()
    torch.save({"w": datetime.timedelta(1)}, saved)  # (a class weights_only does not allow)
    start = "not a PyTorch weights file (torch.load with weights_only=True failed: UnpicklingError: "
    for data, cause in ((b"\x80\x02garbage" * 100, "Unsupported operand"),
                        (saved.getvalue(), "Unsupported global: GLOBAL datetime.timedelta")):
        (tmp_path / "c3d.pickle").write_bytes(data)
        reason = {r["name"]: r["reason"] for r in dl.status(tmp_path)}["c3d"]
        assert reason.startswith(start + cause) and reason.endswith(")"), reason
        assert "False" not in reason and "\n" not in reason and len(reason) < 200
    # a text file (a note, a web page saved under the name) read as `KeyError: 101`: said plainly
    for text, said in (("hello\n", "it reads as text"), ("<html><body>404</body></html>", "it reads as HTML")):
        (tmp_path / "c3d.pickle").write_text(text)
        reason = {r["name"]: r["reason"] for r in dl.status(tmp_path)}["c3d"]
        assert reason.startswith("not a PyTorch weights file (neither a torch zip nor a pickle: " + said), reason
        assert "KeyError" not in reason
    table = {"arch": dl.Remote("arch", "arch.pth", f"{server}/garbage.pth", dl.strict_load(lambda: nn.Linear(8, 4)))}
    serve("garbage.pth", b"\x80\x02garbage" * 100)
    assert dl.download(["arch"], tmp_path / "w", table) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert f"wrong file ({start}Unsupported operand" in err[-1] and "False" not in err[-1], err
    assert left_files(tmp_path / "w") == []


def test_cli_with_mirror_url(server, tmp_path, monkeypatch):
    """The real table through $S2VT_WEIGHTS_URL: the PCA file (verified by its shapes), then `list`."""
    buf = io.BytesIO()
    np.savez(buf, pca_eigen_vectors=np.eye(128), pca_means=np.zeros((128, 1)))
    serve("vggish_pca_params.npz", buf.getvalue())
    env = {"S2VT_WEIGHTS_URL": server + "/", "TORCH_HOME": str(tmp_path / "torch")}
    monkeypatch.setenv("S2VT_WEIGHTS_URL", server)
    assert dl.remotes()["resnet152"].url == f"{server}/resnet152-394f9c45.pth"
    proc = run_cli("-m", "s2vt.cli", "weights", "download", "vggish_pca", "--dir", str(tmp_path / "w"), env=env)
    assert proc.returncode == 0, proc.stderr
    assert find_weights("vggish_pca", tmp_path / "w") == tmp_path / "w" / "vggish_pca_params.npz"
    proc = run_cli("-m", "s2vt.cli", "weights", "list", "--dir", str(tmp_path / "w"), "--json", env=env)
    rows = {r["name"]: r["status"] for r in map(json.loads, proc.stdout.splitlines())}
    assert rows == {"resnet152": "missing", "c3d": "missing", "vggish": "missing", "vggish_pca": "verified"}
    (tmp_path / "w" / "vggish_pca_params.npz").write_bytes(b"truncated")
    proc = run_cli("-m", "s2vt.cli", "weights", "list", "--dir", str(tmp_path / "w"), env=env)
    assert "vggish_pca  unusable" in proc.stdout and "does not load" in proc.stdout


def test_list_says_unusable_for_a_file_extract_would_refuse(tmp_path, monkeypatch):
    """An empty or text file under a hash-named file's name was "present", as if only unverified."""
    from extract.backbones import weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # (the hub cache: tmp_path/hub/checkpoints, empty)
    (tmp_path / "resnet152-394f9c45.pth").write_bytes(b"")
    (tmp_path / "vggish-10086976.pth").write_text("<html>404 Not Found</html>\n")
    np.savez(tmp_path / "vggish_pca_params.npz", pca_eigen_vectors=np.full((128, 128), np.nan), pca_means=np.zeros(128))
    proc = run_cli("-m", "s2vt.cli", "weights", "list", "--dir", str(tmp_path), env={"TORCH_HOME": str(tmp_path)})
    lines = {line.split()[0]: line for line in proc.stdout.splitlines()}
    assert proc.returncode == 0 and lines["c3d"].split()[1] == "missing", proc.stdout
    assert lines["resnet152"].split()[1] == "unusable" and "empty file" in lines["resnet152"]
    assert lines["vggish"].split()[1] == "unusable" and "not a PyTorch weights file" in lines["vggish"]
    assert lines["vggish_pca"].split()[1] == "unusable" and "NaN" in lines["vggish_pca"]
    # a file of another sha256 that loads all the same is present (extract uses it); one that does not, unusable
    monkeypatch.setitem(weights.SPECS, "tiny", weights.WeightSpec("tiny", ("tiny-0badc0de.pth",), "unused"))
    table = {"tiny": dl.Remote("tiny", "tiny-0badc0de.pth", "unused", dl.strict_load(lambda: nn.Linear(8, 4)))}
    for data, status, says in ((state_bytes(nn.Linear(8, 4)), "present", "its name says 0badc0de"),
                               (state_bytes(nn.Linear(8, 3)), "unusable", "weight is [3, 8], not [4, 8]"),
                               (b"", "unusable", "empty file")):
        (tmp_path / "tiny-0badc0de.pth").write_bytes(data)
        [row] = dl.status(tmp_path, table)
        assert row["status"] == status and says in row["reason"], row


def test_list_gives_a_short_plain_reason_not_torchs_text(tmp_path, monkeypatch):
    """`weights list` showed torch's exception text for a file of other keys ("Error(s) in loading
    state_dict for Linear: Missing key(s) in state_dict: ...", every key) or of odd content ("does not
    load: AttributeError: 'int' object has no attribute 'removeprefix'")."""
    from extract.backbones import weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setitem(weights.SPECS, "tiny", weights.WeightSpec("tiny", ("tiny.pth",), "unused"))
    table = {"tiny": dl.Remote("tiny", "tiny.pth", "unused", dl.strict_load(lambda: nn.Sequential(
        *(nn.Linear(4, 4) for _ in range(5)))))}

    def reason(obj):
        torch.save(obj, tmp_path / "tiny.pth")
        [row] = dl.status(tmp_path, table)
        assert row["status"] == "unusable" and "\n" not in row["reason"] and len(row["reason"]) < 200, row
        return row["reason"]

    assert reason({"model": nn.Linear(4, 4).state_dict()}) == (
        "not Sequential weights (missing keys: 0.weight, 0.bias, 1.weight, ... 10 in all; unexpected: model)")
    assert reason({1: torch.zeros(2)}) == "not a PyTorch state dict (a mapping of layer names to tensors)"
    assert reason([torch.zeros(2)]) == "not a PyTorch state dict (a mapping of layer names to tensors)"
    # any other failure: its type and first sentence, not the advice or key lists after it
    table["tiny"] = dl.Remote("tiny", "tiny.pth", "unused", lambda path: (_ for _ in ()).throw(
        RuntimeError("Error(s) in loading. Missing key(s) in state_dict: " + ", ".join(map(str, range(500))))))
    assert reason({}) == "does not load (RuntimeError: Error(s) in loading)"


def test_list_of_a_folder_that_is_not_there_is_one_line(tmp_path, capsys):
    """`weights list --dir /nope` listed every file "missing", as if not downloaded, with exit 0."""
    from s2vt import cli

    (tmp_path / "file").write_text("x")
    for where, what in ((tmp_path / "nope", "no such folder"), (tmp_path / "file", "not a folder")):
        assert cli.main(["weights", "list", "--dir", str(where)]) == 2
        assert capsys.readouterr() == ("", f"error: --dir {where}: {what}\n")


def test_unreachable_mirror_is_one_line_at_once(tmp_path):
    import socket
    with socket.socket() as sock:  # a loopback port nobody listens on once this socket closes
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"S2VT_WEIGHTS_URL": f"http://127.0.0.1:{port}", "TORCH_HOME": str(tmp_path / "torch")}
    proc = run_cli("-m", "s2vt.cli", "weights", "download", "vggish_pca", "--dir", str(tmp_path / "w"), env=env)
    assert proc.returncode == 1  # the batch ran and an item failed (as python -m extract's failed videos)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "check the mirror S2VT_WEIGHTS_URL=http://127.0.0.1" in lines[0], lines
    assert "attempt" not in lines[0] and not (tmp_path / "w").exists()  # (the folder it made, empty: removed)
    proc = run_cli("-m", "s2vt.cli", "weights", "download", "nosuch", "--dir", str(tmp_path / "w"), env=env)
    assert proc.returncode == 2 and "unknown weights nosuch" in proc.stderr  # a user error before anything ran


def test_a_mirror_given_as_a_plain_folder_is_read_as_one(tmp_path):
    """`S2VT_WEIGHTS_URL=./m3` (an air-gapped user's folder) was a ValueError traceback, exit 1."""
    (tmp_path / "m3").mkdir()
    np.savez(tmp_path / "m3" / "vggish_pca_params.npz", pca_eigen_vectors=np.eye(128), pca_means=np.zeros((128, 1)))
    env = {"S2VT_WEIGHTS_URL": "./m3", "TORCH_HOME": str(tmp_path / "torch")}
    proc = run_cli("-m", "s2vt.cli", "weights", "download", "vggish_pca", "--dir", "w", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert find_weights("vggish_pca", tmp_path / "w") == tmp_path / "w" / "vggish_pca_params.npz"
    # two slashes make m3 the host: refused in one line before any folder is made
    env["S2VT_WEIGHTS_URL"] = "file://m3"
    proc = run_cli("-m", "s2vt.cli", "weights", "download", "vggish_pca", "--dir", "w2", env=env, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "file:///FOLDER (three slashes)" in proc.stderr and not (tmp_path / "w2").exists()


def test_a_closed_stderr_does_not_stop_a_download(tmp_path):
    """(hostile trial) `s2vt weights download vggish_pca --dir w 2>&-` exited 1 with nothing installed, an empty
    .part file left: the progress bar wrote to a stderr that was None. Now the file is installed, exit 0."""
    (tmp_path / "m").mkdir()
    np.savez(tmp_path / "m" / "vggish_pca_params.npz", pca_eigen_vectors=np.eye(128), pca_means=np.zeros((128, 1)))
    env = {"S2VT_WEIGHTS_URL": "./m", "TORCH_HOME": str(tmp_path / "torch")}
    proc = run_without_stderr("closed", "-m", "s2vt", "weights", "download", "vggish_pca", "--dir", "w", env=env,
                              cwd=tmp_path)
    assert proc.returncode == 0 and left_files(tmp_path / "w") == ["vggish_pca_params.npz"], proc.stdout


@pytest.mark.parametrize("given, url", [
    ("file:/mnt/w", "file:///mnt/w/vggish_pca_params.npz"),  # one slash: a file URL too, not a folder "file:"
    ("/", "file:///vggish_pca_params.npz"),  # the root, not "" (which fell back to the internet)
    ("http://mirror:8/a/", "http://mirror:8/a/vggish_pca_params.npz"),
])
def test_mirror_forms(given, url, monkeypatch):
    monkeypatch.setenv("S2VT_WEIGHTS_URL", given)
    assert dl.remotes()["vggish_pca"].url == url


def test_the_download_hint_quotes_its_folder(tmp_path):
    """`run s2vt weights download c3d --dir my weights` (a folder with a space, unquoted) split into two."""
    import shlex

    from extract.backbones.weights import WeightsNotFound, find_weights

    folder = tmp_path / "my weights"
    folder.mkdir()
    with pytest.raises(WeightsNotFound) as e:
        find_weights("c3d", folder)
    command = str(e.value).split("run `")[1].split("`")[0]
    assert shlex.split(command)[-4:] == ["download", "c3d", "--dir", str(folder)]


def test_a_dir_that_cannot_be_made_is_one_line_before_any_download(server, tmp_path, capsys, monkeypatch):
    """`weights download --dir /proc/w` (or /sys/w, or afile/w) printed one 'error:' per backbone, exit 1, each
    after trying it (hostile trial): a mistake found before anything ran is one line, exit 2, no request."""
    from s2vt.cli import main

    monkeypatch.setenv("S2VT_WEIGHTS_URL", server)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    (tmp_path / "afile").write_text("x")
    os.mkfifo(tmp_path / "fifo")  # (called 'a file, not a folder', as /dev/null was: hostile trial)
    for folder, why in (("/proc/w", "/proc takes nothing new"), ("/sys/w", "/sys takes nothing new"),
                        (str(tmp_path / "afile" / "w"), f"{tmp_path / 'afile'} is a file, not a folder"),
                        (str(tmp_path / "fifo"), f"{tmp_path / 'fifo'} is a pipe, not a folder"),
                        ("/dev/null", "/dev/null is a device, not a folder")):
        Handler.log.clear()
        code = main(["weights", "download", "--dir", folder])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and err[0].startswith(f"error: cannot write {folder}: {why}"), err
        assert Handler.log == []


def test_weights_dir_variable_is_every_commands_default_folder(server, tmp_path, monkeypatch):
    """The weights folder was always checkpoints/ under the current folder: an installed s2vt's `weights download`
    in one folder was 'missing' to `weights list` (and extract, caption) in another, unless every command was
    given --weights-dir (hostile trial). $S2VT_WEIGHTS_DIR is now the default folder of them all; the folders
    looked in are named absolute, and the 'missing' hints name the variable."""
    from extract.backbones import build_backbone
    from extract.backbones.weights import WeightsNotFound

    buf = io.BytesIO()
    np.savez(buf, pca_eigen_vectors=np.eye(128), pca_means=np.zeros((128, 1)))
    serve("vggish_pca_params.npz", buf.getvalue())
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    env = {"S2VT_WEIGHTS_URL": server, "TORCH_HOME": str(tmp_path / "torch"), "S2VT_WEIGHTS_DIR": str(tmp_path / "w")}
    proc = run_cli("-m", "s2vt.cli", "weights", "download", "vggish_pca", env=env, cwd=tmp_path / "one")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "w" / "vggish_pca_params.npz").is_file() and not (tmp_path / "one" / "checkpoints").exists()
    proc = run_cli("-m", "s2vt.cli", "weights", "list", env=env, cwd=tmp_path / "two")
    lines = {line.split()[0]: line for line in proc.stdout.splitlines()}
    assert lines["vggish_pca"].split()[1:] == ["verified", str(tmp_path / "w" / "vggish_pca_params.npz")], proc.stdout
    assert f"(looked in {tmp_path / 'w'}, {tmp_path / 'torch' / 'hub' / 'checkpoints'})" in lines["c3d"]
    assert proc.stdout.count("S2VT_WEIGHTS_DIR") == 1, proc.stdout  # (once, not per missing file)
    # extract's and caption's lookup (find_weights with no --weights-dir), in any folder
    monkeypatch.chdir(tmp_path / "two")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("S2VT_WEIGHTS_DIR", str(tmp_path / "w"))
    assert find_weights("vggish_pca") == tmp_path / "w" / "vggish_pca_params.npz"
    with pytest.raises(WeightsNotFound) as e:
        build_backbone("c3d", "pretrained")
    assert f"looked for c3d.pickle in {tmp_path / 'w'}, " in str(e.value)
    assert "or set S2VT_WEIGHTS_DIR to the folder that holds them" in str(e.value)
    # unset: checkpoints/ of the current folder, as in the repository, named absolute
    monkeypatch.delenv("S2VT_WEIGHTS_DIR")
    with pytest.raises(WeightsNotFound) as e:
        find_weights("vggish_pca")
    assert f"looked for vggish_pca_params.npz in {tmp_path / 'two' / 'checkpoints'}, " in str(e.value)


@pytest.mark.parametrize("value", ["", " "])
def test_an_empty_weights_dir_variable_is_unset(value, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("S2VT_WEIGHTS_DIR", value)
    (tmp_path / "checkpoints").mkdir()
    np.savez(tmp_path / "checkpoints" / "vggish_pca_params.npz", pca_eigen_vectors=np.eye(128), pca_means=np.zeros(128))
    assert find_weights("vggish_pca") == tmp_path / "checkpoints" / "vggish_pca_params.npz"


def refused_in_one_line(commands, env: dict, cwd, said: str) -> None:
    """Each `s2vt` command of `commands`, run in `cwd` with `env`, exits 2 with `said` alone on stderr."""
    for args in commands:
        proc = run_cli("-m", "s2vt.cli", *args, env=env, cwd=cwd)
        assert (proc.returncode, proc.stdout, proc.stderr.strip().splitlines()) == (2, "", [said]), (args, proc.stderr)


def test_a_weights_dir_variable_naming_a_file_is_one_line(tmp_path, videos):
    """$S2VT_WEIGHTS_DIR naming a file would read as 'not downloaded' (as a --dir typo once did): one line, exit 2,
    in weights list and download, extract (nothing made)."""
    (tmp_path / "afile").write_text("x")
    env = {"S2VT_WEIGHTS_DIR": "afile", "TORCH_HOME": str(tmp_path / "torch")}
    said = f"error: S2VT_WEIGHTS_DIR='afile': not a folder ({tmp_path / 'afile'}): set it to the folder that holds " \
           "the weight files"
    refused_in_one_line([("weights", "list"), ("weights", "download", "vggish_pca"),
                         ("extract", str(videos["mp4_aac"]), "--out", "out", "--modalities", "vggish")], env, tmp_path,
                        said)
    assert not (tmp_path / "out").exists() and not (tmp_path / "checkpoints").exists()


def test_a_weights_dir_variable_naming_no_folder_is_one_line(tmp_path, videos, server, monkeypatch):
    """$S2VT_WEIGHTS_DIR naming no folder (a typo, an unmounted disk) was used as is: `weights list` said every file
    missing and advised 'set S2VT_WEIGHTS_DIR', which the user had done (hostile trial). A lookup (weights list,
    extract, caption's and serve's find_weights) now stops in one line, exit 2; `weights download` makes it."""
    from s2vt.errors import SettingError

    env = {"S2VT_WEIGHTS_DIR": "nowhere", "TORCH_HOME": str(tmp_path / "torch"), "S2VT_WEIGHTS_URL": server}
    said = f"error: S2VT_WEIGHTS_DIR='nowhere': no such folder ({tmp_path / 'nowhere'}): set it to the folder that " \
           "holds the weight files, or run `python -m s2vt.cli weights download`, which makes it"
    refused_in_one_line([("weights", "list"), ("weights", "list", "--json"),
                         ("extract", str(videos["mp4_aac"]), "--out", "out", "--modalities", "vggish")], env, tmp_path,
                        said)
    assert not (tmp_path / "out").exists() and not (tmp_path / "nowhere").exists()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("S2VT_WEIGHTS_DIR", "nowhere")
    with pytest.raises(SettingError, match="no such folder"):
        find_weights("c3d")
    # downloads go there: made, as --dir is
    buf = io.BytesIO()
    np.savez(buf, pca_eigen_vectors=np.eye(128), pca_means=np.zeros((128, 1)))
    serve("vggish_pca_params.npz", buf.getvalue())
    proc = run_cli("-m", "s2vt.cli", "weights", "download", "vggish_pca", env=env, cwd=tmp_path)
    assert proc.returncode == 0 and (tmp_path / "nowhere" / "vggish_pca_params.npz").is_file(), proc.stderr


def test_list_ends_with_the_int8_cache_folder_and_its_size(tmp_path):
    """The int8 cache (~300 MB under ~/.cache/torch/hub/s2vt-int8) stays after `pip uninstall`, and only
    docs/design.md said where it is (hostile trial): `weights list` now ends with its files' count, size and folder."""
    cache = tmp_path / "torch" / "hub" / "s2vt-int8"
    cache.mkdir(parents=True)
    with open(cache / "resnet152-0123456789abcdef.pt", "wb") as f:
        f.truncate(250_000_000)  # (sparse: the size is the files' st_size, nothing is read)
    with open(cache / "c3d-fedcba9876543210.pt", "wb") as f:
        f.truncate(62_000_000)
    env = {"TORCH_HOME": str(tmp_path / "torch"), "S2VT_CACHE_DIR": None}
    proc = run_cli("-m", "s2vt.cli", "weights", "list", "--dir", str(tmp_path), env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == \
        f"int8 cache: 2 files, 312 MB in {cache} (the int8 backbones an int8 run made; safe to remove)"
    proc = run_cli("-m", "s2vt.cli", "weights", "list", "--dir", str(tmp_path), "--json", env=env)
    rows = [json.loads(line) for line in proc.stdout.splitlines()]  # (JSON rows only)
    assert all(r["name"] in dl.SPECS for r in rows) and sum(r["int8_cache"]["files"] for r in rows) == 2
    env["S2VT_CACHE_DIR"] = str(tmp_path / "nocache")  # (none made yet: no line)
    proc = run_cli("-m", "s2vt.cli", "weights", "list", "--dir", str(tmp_path), env=env)
    assert proc.returncode == 0 and "int8 cache" not in proc.stdout, proc.stdout
    (tmp_path / "emptycache" / "sub").mkdir(parents=True)  # (a folder of no file frees nothing: no line either)
    env["S2VT_CACHE_DIR"] = str(tmp_path / "emptycache")
    proc = run_cli("-m", "s2vt.cli", "weights", "list", "--dir", str(tmp_path), env=env)
    assert proc.returncode == 0 and "int8 cache" not in proc.stdout, proc.stdout


def test_the_int8_cache_line_counts_only_the_caches_own_files(tmp_path):
    """`S2VT_CACHE_DIR=/tmp/shared` holding the user's own files made `weights list` print 'int8 cache: /tmp/shared
    (... MB; ... safe to remove)': it summed the whole folder, subfolders too, and called it safe to remove
    (hostile trial). Only the cache's files (`MODEL-DIGEST.pt`, directly in the folder) are counted; none: no line."""
    shared = tmp_path / "shared"
    (shared / "sub").mkdir(parents=True)
    for name in ("thesis.pdf", "model.pt", "resnet152-notahexdigest.pt", "sub/c3d-0123456789abcdef.pt",
                 ".resnet152-0123456789abcdef.pt.tmp-12"):
        with open(shared / name, "wb") as f:
            f.truncate(50_000_000)
    env = {"TORCH_HOME": str(tmp_path / "torch"), "S2VT_CACHE_DIR": str(shared)}
    proc = run_cli("-m", "s2vt.cli", "weights", "list", "--dir", str(tmp_path), env=env)
    assert proc.returncode == 0 and "int8 cache" not in proc.stdout, proc.stdout
    with open(shared / "vggish-0123456789abcdef.pt", "wb") as f:
        f.truncate(5_000_000)
    proc = run_cli("-m", "s2vt.cli", "weights", "list", "--dir", str(tmp_path), env=env)
    assert proc.stdout.splitlines()[-1] == \
        f"int8 cache: 1 file, 5.0 MB in {shared} (the int8 backbones an int8 run made; safe to remove)", proc.stdout


def test_list_json_names_the_int8_cache_too(tmp_path):
    """`weights list --json` left out the int8 cache the text output ends with, and the text said the cache was
    'made from the weights above' even when every weight was listed missing (hostile trial; int8 runs of
    --weights random make cache files too). Each JSON row now has its backbone's cache files under "int8_cache"
    (a key: every line stays one weight file's row), and the text line says what the files are."""
    cache = tmp_path / "torch" / "hub" / "s2vt-int8"
    cache.mkdir(parents=True)
    with open(cache / "c3d-fedcba9876543210.pt", "wb") as f:
        f.truncate(62_000_000)
    env = {"TORCH_HOME": str(tmp_path / "torch"), "S2VT_CACHE_DIR": None}
    proc = run_cli("-m", "s2vt.cli", "weights", "list", "--dir", str(tmp_path), env=env)
    assert proc.returncode == 0 and "missing" in proc.stdout and "weights above" not in proc.stdout, proc.stdout
    proc = run_cli("-m", "s2vt.cli", "weights", "list", "--dir", str(tmp_path), "--json", env=env)
    rows = {r["name"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert list(rows) == list(dl.SPECS) and all(r["status"] == "missing" for r in rows.values())
    assert rows["c3d"]["int8_cache"] == {"folder": str(cache), "files": 1, "bytes": 62_000_000}
    assert rows["resnet152"]["int8_cache"] == {"folder": str(cache), "files": 0, "bytes": 0}


def test_list_asks_to_fetch_the_required_files_alone(monkeypatch, capsys):
    """Every backbone's file there and the optional VGGish PCA missing: the footer still said 'missing files: ...
    fetches them', as if extract needed it (trial 131)."""
    from s2vt import cli

    def rows(missing):
        return lambda folder: [{"name": n, "file": n, "status": "missing" if n in missing else "verified",
                                "path": None if n in missing else f"/w/{n}", "reason": None} for n in dl.SPECS]
    for missing, footer in (({"vggish_pca"}, False), ({"c3d", "vggish_pca"}, True)):
        monkeypatch.setattr(dl, "status", rows(missing))
        assert cli.main(["weights", "list"]) == 0
        assert ("missing files:" in capsys.readouterr().out) == footer, missing


def test_list_names_the_file_each_weight_is_expected_under(tmp_path):
    """`weights list` rows of missing weights named no file (`c3d  missing  (looked in ...)`): a user who downloaded
    weights by hand could not tell what name to save them under (hostile trial). A missing row now names its file
    (the path a found one shows ends in it), aligned; each --json row has it as "file"."""
    (tmp_path / "vggish-10086976.pth").write_bytes(b"")  # (found: its path says the name)
    env = {"TORCH_HOME": str(tmp_path / "torch"), "S2VT_CACHE_DIR": str(tmp_path / "nocache")}
    proc = run_cli("-m", "s2vt.cli", "weights", "list", "--dir", str(tmp_path), env=env)
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.split()[0] in dl.SPECS}
    for name in ("resnet152", "c3d", "vggish_pca"):
        assert lines[name].split()[1:3] == ["missing", dl.SPECS[name].files[0]], lines[name]
    assert lines["vggish"].split()[1:3] == ["unusable", str(tmp_path / "vggish-10086976.pth")], lines["vggish"]
    assert len({line.index("(looked in") for n, line in lines.items() if n != "vggish"}) == 1, proc.stdout
    # (the optional PCA said so: its row read as one more file to fetch; trial 130)
    assert lines["vggish_pca"].endswith("; only features made with --vggish-pca need it)") and \
        "--vggish-pca" not in lines["c3d"], proc.stdout
    proc = run_cli("-m", "s2vt.cli", "weights", "list", "--dir", str(tmp_path), "--json", env=env)
    rows = {r["name"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert {n: r["file"] for n, r in rows.items()} == {n: s.files[0] for n, s in dl.SPECS.items()}


def test_a_weight_name_that_holds_no_file_is_said_so_and_never_replaced(server, tmp_path, monkeypatch, capsys):
    """`weights list` said "missing" for a weight file's name that was a folder, a link loop, a dangling link or a
    pipe, and `weights download` replaced a user's pipe and dangling link (to a file elsewhere) by a plain file
    (hostile trial). Now the row says what is there (unusable), and download refuses it in one line, untouched."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    wd = tmp_path / "wd"
    wd.mkdir()
    (wd / "resnet152-394f9c45.pth").mkdir()
    (wd / "c3d.pickle").symlink_to("c3d.pickle")
    (wd / "vggish-10086976.pth").symlink_to(tmp_path / "elsewhere" / "v.pth")
    os.mkfifo(wd / "vggish_pca_params.npz")
    rows = {r["name"]: r for r in dl.status(wd)}
    for name, what in (("resnet152", "a folder"), ("c3d", "a symbolic link loop (to c3d.pickle)"),
                       ("vggish", f"a broken symbolic link (to {tmp_path / 'elsewhere' / 'v.pth'}, which does not "
                                  "exist)"),
                       ("vggish_pca", "a pipe (FIFO)")):
        file = dl.SPECS[name].files[0]
        assert rows[name]["status"] == "unusable" and rows[name]["path"] == str(wd / file), rows[name]
        assert rows[name]["reason"] == f"{what}, not a regular file", rows[name]
    data = state_bytes(nn.Linear(8, 4))
    table = {}
    for name in ("vggish_pca", "vggish"):
        file = dl.SPECS[name].files[0]
        table[name] = dl.Remote(name, file, f"{server}/{serve(file, data)}", None)
    Handler.log.clear()
    assert dl.download(["vggish_pca", "vggish"], wd, table) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"error: vggish_pca: cannot write {wd / 'vggish_pca_params.npz'}: it is a pipe (FIFO), not a "
                   "regular file: move it, then download again",
                   f"error: vggish: cannot write {wd / 'vggish-10086976.pth'}: it is a broken symbolic link (to "
                   f"{tmp_path / 'elsewhere' / 'v.pth'}, which does not exist), not a regular file: remove the link, "
                   "then download again"], err
    assert Handler.log == [] and (wd / "vggish-10086976.pth").is_symlink() and not (tmp_path / "elsewhere").exists()
    assert os.path.exists(wd / "vggish_pca_params.npz") and not os.path.isfile(wd / "vggish_pca_params.npz")


def test_a_users_link_to_a_wrong_file_is_refused_in_one_line(server, tmp_path, monkeypatch, capsys):
    """A user's symbolic link at a weight's name, to a file that is not the right one, said '... is not the right
    file (...): downloading it again', then 'error: ... it is a symbolic link ...', contradicting itself (review):
    the refusal alone, nothing fetched, the link and its file untouched."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    wd = tmp_path / "wd"
    wd.mkdir()
    (tmp_path / "v.pth").write_bytes(b"not weights")
    file = dl.SPECS["vggish"].files[0]
    (wd / file).symlink_to(tmp_path / "v.pth")
    data = state_bytes(nn.Linear(8, 4))
    table = {"vggish": dl.Remote("vggish", file, f"{server}/{serve(file, data)}", None)}
    Handler.log.clear()
    assert dl.download(["vggish"], wd, table) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"error: vggish: cannot write {wd / file}: it is a symbolic link (to {tmp_path / 'v.pth'}), which "
                   "the download would replace by a file: remove the link, or put the right file where it points, "
                   "then download again"], err
    assert Handler.log == [] and (wd / file).is_symlink() and (tmp_path / "v.pth").read_bytes() == b"not weights"


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EPERM])
def test_a_part_that_cannot_be_written_is_not_retried_and_says_what_to_do(code, server, tmp_path, capsys,
                                                                          monkeypatch):
    """A full disk under the download was tried three times ('attempt 1/3 failed (No space left on device), trying
    again'), then told to "run the same command again to resume", not that the disk was full (hostile trial): an
    error of the file written is no connection's, tried once, and the line says it and what to do about it."""
    import errno

    data = state_bytes(nn.Linear(64, 32))
    name = serve(hashed("full", data), data)
    table = {"full": dl.Remote("full", name, f"{server}/{name}")}

    def refused(fd):
        raise OSError(code, os.strerror(code))
    monkeypatch.setattr(dl.os, "fsync", refused)
    Handler.log.clear()
    assert dl.download(["full"], tmp_path, table) == 1
    err = capsys.readouterr().err.strip().splitlines()
    part = tmp_path / f".part-{name}"
    assert len(Handler.log) == 1 and len(err) == 1, err
    advice = (f"free space, then run the same command again to resume ({len(data):,} bytes kept in {part})"
              if code == errno.ENOSPC else f"a rerun fails the same way: make {tmp_path} writable, or pass another "
              "--dir")
    assert err[0] == f"error: full: cannot write {part}: {os.strerror(code)}; {advice}"
