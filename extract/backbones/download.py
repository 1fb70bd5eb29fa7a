"""`s2vt weights download` / `s2vt weights list`: fetch and check the backbones' pretrained files.

The URLs and file names are `weights.SPECS`; `S2VT_WEIGHTS_URL` replaces every URL's folder
(a mirror, or a folder on an air-gapped site: `/mnt/weights` or `file:///mnt/weights`). A download goes to a
hidden `.part-NAME` file (its suffix kept for the checks) (kept when the connection drops, and
resumed with an HTTP Range request), is verified, and only then renamed to its real name: a failed or wrong download
never leaves a file that `find_weights` would pick up.
"""
from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import http.client
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from s2vt.errors import UserError
from s2vt.fileio import OutputError, lasting_advice, make_dirs, not_a_file, output_error
from .weights import SPECS, BadWeights, WeightSpec, find_weights, load_state_dict, search_dirs

BASE_ENV = "S2VT_WEIGHTS_URL"
DEFAULT_NAMES = ("resnet152", "c3d", "vggish")  # the PCA file only when named: only --vggish-pca uses it
# torchvision and torchvggish put the first hex digits of the file's sha256 in its name (torch.hub's rule)
HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.[A-Za-z0-9]+$")
ATTEMPTS = 3  # connections per file before giving up (each resumes where the last one stopped)
TIMEOUT_S = 30


class DownloadError(UserError):
    """A file that could not be fetched, or was not the file it should be."""


@dataclasses.dataclass(frozen=True)
class Remote:
    """One downloadable file: where it comes from, the name it is saved as, and, for a name
    without a sha256 prefix, the check it must pass (raises on a wrong file)."""
    name: str
    file: str
    url: str
    check: Callable[[Path], None] | None = None


def strict_load(factory: Callable[[], "torch.nn.Module"]) -> Callable[[Path], None]:  # noqa: F821
    """A check that loads the file (weights_only) into the architecture strictly: every key, every shape."""
    def check(path: Path) -> None:
        from . import empty_module
        from .weights import load_strict

        # on the meta device: shapes and keys are checked, nothing is allocated; load_strict, not torch's
        # load_state_dict, whose error quotes every key (the reason `weights list` shows on one line)
        net = empty_module(factory, materialize=False)
        load_strict(net, load_state_dict(path), path, type(net).__name__, assign=True)
    return check


def as_extract_loads(name: str) -> Callable[[Path], None]:
    """A check that loads the file as `python -m extract` does (keys, shapes, no NaN or inf: `load_strict`),
    into a network on the meta device (nothing allocated beyond the file's own tensors)."""
    def check(path: Path) -> None:
        from . import empty_module
        from .c3d import C3DNet
        from .resnet import ResNet152Net
        from .vggish import VGGishNet
        from .weights import load_strict

        # (the backbone's own create() drops the same keys: resnet's classifier, the port's PCA)
        factory, what, dropped = {"resnet152": (ResNet152Net, "ResNet-152", "fc."), "c3d": (C3DNet, "C3D", None),
                                  "vggish": (VGGishNet, "VGGish", "pca_")}[name]
        state = {k: v for k, v in load_state_dict(path).items() if not (dropped and k.startswith(dropped))}
        load_strict(empty_module(factory, materialize=False), state, path, what, assign=True)
    return check


def check_pca(path: Path) -> None:
    from .vggish import load_pca
    load_pca(path)  # (checks the shapes too: extract refuses the same files)


# resnet152's and vggish's are verified by the sha256 in their names; their checks say whether a file
# of another hash is one extract can load (`weights list`: present) or not (unusable)
CHECKS = {"resnet152": as_extract_loads("resnet152"), "c3d": as_extract_loads("c3d"),
          "vggish": as_extract_loads("vggish"), "vggish_pca": check_pca}


def mirror() -> str:
    """$S2VT_WEIGHTS_URL as the URL of a folder, ending in / ("" when unset or blank): a URL as given
    (http, https, ftp, file: `file:///mnt/w`, `file:/mnt/w`); anything else is a folder path
    (`./weights`, `/mnt/weights`, `~/w`), as an air-gapped user types it, taken as its file:// URL.
    `file://weights` (a host named weights) is refused in one line: urllib would look for /FILE."""
    base = os.environ.get(BASE_ENV, "").strip()
    if not base:
        return ""
    url = urllib.parse.urlsplit(base)
    if url.scheme.lower() not in ("http", "https", "ftp", "file"):  # (no scheme, or C: on Windows)
        return Path(base).expanduser().resolve().as_uri().rstrip("/") + "/"
    if url.scheme.lower() == "file" and url.netloc not in ("", "localhost"):
        raise DownloadError(f"{BASE_ENV}={base}: a file URL names an absolute folder, file:///FOLDER (three "
                            "slashes); or give the folder itself")
    return base.rstrip("/") + "/"


def remotes(specs: dict[str, WeightSpec] = SPECS) -> dict[str, Remote]:
    """name -> Remote from the spec table, with $S2VT_WEIGHTS_URL as the folder of every URL when set."""
    base = mirror()
    return {name: Remote(name, s.files[0], urllib.parse.urljoin(base, s.files[0]) if base else s.url,
                         CHECKS.get(name))
            for name, s in specs.items()}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def problem(path: Path, name: str, check: Callable[[Path], None] | None) -> str | None:
    """Why the file at `path` (saved as `name`) is not the right one, or None if it verifies."""
    if m := HASH_IN_NAME.search(name):
        digest = sha256(path)
        return None if digest.startswith(m.group(1)) else \
            f"sha256 {digest[:len(m.group(1))]}..., its name says {m.group(1)}"
    if check is None:
        return "no way to verify it (no sha256 in its name, no known architecture)"
    return load_problem(path, check)


def load_problem(path: Path, check: Callable[[Path], None]) -> str | None:
    """Why the file at `path` fails `check` (does not load as its backbone's weights), or None."""
    try:
        check(path)
    except BadWeights as e:  # (already one line; the row or message names the file)
        return str(e).removeprefix(f"{path}: ")
    except OSError as e:  # (a file that cannot be read is not known to be wrong)
        return f"cannot read it ({e.strerror or type(e).__name__})"
    except Exception as e:  # noqa: BLE001 - any failure to load means a wrong file
        # one short line, named by its type (some errors say only a number: a KeyError of a pickle's id);
        # only the first sentence: what follows in library errors is advice or a list of every key
        first = " ".join(str(e).split()).split(". ")[0].rstrip(".")
        return f"does not load ({type(e).__name__}{': ' + first[:120] if first else ''})"
    return None


def saved(part: Path, action: Callable, *args, **kwargs):
    """`action(*args, **kwargs)`, an OSError of it an OutputError of `part` (`output_error`): the file written, not
    the connection, failed (a full disk), which trying the connection again does not help (`fetch`)."""
    try:
        return action(*args, **kwargs)
    except OSError as e:
        raise output_error(part, e) from None


def transfer(url: str, part: Path, timeout: float = TIMEOUT_S) -> None:
    """Fetch `url` into `part`, continuing after the bytes already there (HTTP Range). Raises
    OSError when the connection fails or ends early (the bytes received stay in `part`), OutputError when `part`
    cannot be written."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        total = resp.headers.get("Content-Length")
        total = int(total) if total and total.isdigit() else None
        if getattr(resp, "status", None) == 206:
            m = re.match(r"bytes (\d+)-\d+/(\d+|\*)", resp.headers.get("Content-Range", ""))
            if not m or int(m.group(1)) != have:
                raise DownloadError(f"{url}: the server resumed at the wrong place "
                                    f"({resp.headers.get('Content-Range')!r} for bytes={have}-)")
            total = int(m.group(2)) if m.group(2) != "*" else None
            mode = "ab"
        else:  # a full answer (no Range support, or a file:// URL): start over
            have, mode = 0, "wb"
        # (unbuffered: an error of the file, a full disk, is met at its own write, said as the file's: `saved`)
        with saved(part, open, part, mode, buffering=0) as f, \
                tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=part.name.removeprefix(".part-"),
                     disable=not sys.stderr.isatty(), leave=False) as bar:
            while chunk := resp.read(1 << 16):
                view = memoryview(chunk)
                while view:  # (a raw write may take part of it)
                    view = view[saved(part, f.write, view):]
                bar.update(len(chunk))
            saved(part, os.fsync, f.fileno())
    size = part.stat().st_size
    if total is not None and size != total:
        raise ConnectionError(f"the connection ended after {size:,} of {total:,} bytes")


def fetch(remote: Remote, folder: Path, attempts: int = ATTEMPTS) -> Path:
    """Download, verify and atomically rename one file into `folder`; its path."""
    make_dirs(folder)
    target, part = folder / remote.file, folder / f".part-{remote.file}"
    for attempt in range(1, attempts + 1):
        try:
            transfer(remote.url, part)
            break
        except OutputError as e:  # (the file, not the connection: tried once)
            raise DownloadError(f"{e}; {part_advice(e, part, folder)}") from None
        except urllib.error.HTTPError as e:
            if e.code == 416:  # nothing after the bytes we have: the part is whole (verified next)
                break
            if e.code < 500 or attempt == attempts:
                raise DownloadError(f"{remote.url}: HTTP {e.code} {e.reason}") from None
        except (OSError, http.client.HTTPException) as e:
            reason = getattr(e, "reason", None) or e
            # no connection at all (unknown host, refused, no such file:// file): trying again would
            # only repeat it, so it is the one error line; a transfer cut short is tried again
            unreachable = isinstance(e, urllib.error.URLError)
            if attempt == attempts or unreachable:
                kept = part.stat().st_size if part.exists() else 0
                mirror = os.environ.get(BASE_ENV)
                rerun = (f"{kept:,} bytes kept in {part}: run the same command again to resume" if kept else
                         f"check the mirror {BASE_ENV}={mirror}" if mirror else
                         f"set {BASE_ENV} to a mirror if this machine cannot reach it")
                tries = "" if unreachable else f" ({attempts} attempts)"
                raise DownloadError(f"{remote.url}: {reason}{tries}; {rerun}") from None
            print(f"{remote.name}: attempt {attempt}/{attempts} failed ({reason}), trying again", file=sys.stderr)
            continue
        print(f"{remote.name}: attempt {attempt}/{attempts} failed, trying again", file=sys.stderr)
    reason = problem(part, remote.file, remote.check)
    if reason:
        part.unlink(missing_ok=True)
        raise DownloadError(f"{remote.url}: wrong file ({reason}); the download was removed")
    os.replace(part, target)
    return target


def part_advice(e: OutputError, part: Path, folder: Path) -> str:
    """What to do when `part` could not be written: free space on a full disk, change --dir where a rerun would
    meet the error again (`lasting_advice`), else run again; the bytes kept in `part` named (the rerun resumes)."""
    kept = part.stat().st_size if part.is_file() else 0
    kept = f" ({kept:,} bytes kept in {part})" if kept else ""
    if lasting := lasting_advice(e, folder, "--dir"):
        return lasting
    free = "free space, then " if e.errno in (errno.ENOSPC, errno.EDQUOT) else ""
    return f"{free}run the same command again to resume{kept}"


def download(names: list[str], folder: str | os.PathLike, table: dict[str, Remote] | None = None) -> int:
    """`s2vt weights download`: each name fetched unless a verified copy is already found; a
    failure is one line and the others go on. 0 when all are in place, else 1 (a batch's partial
    failure, as `python -m extract`'s; 2 is for a user error found before anything ran)."""
    table = table if table is not None else remotes()
    folder = Path(folder)
    made = not folder.exists()  # (a folder this command made and left empty is removed at the end)
    # a folder that cannot be made (/proc/w, afile/w) is the user's mistake, one line (OutputError, exit 2) before
    # any download: it was an 'error:' line per backbone, each after trying it, exit 1 (hostile trial)
    make_dirs(folder)
    failed = 0
    for name in names or DEFAULT_NAMES:
        remote = table[name]
        found = find_weights(name, folder, required=False) if name in SPECS else None
        found = found or ((folder / remote.file) if (folder / remote.file).is_file() else None)
        reason = problem(found, found.name, remote.check) if found is not None else None
        if found is not None and reason is None:
            print(f"{name}: {found} is already there (verified)", file=sys.stderr)
            continue
        # (before any request, and before 'downloading it again', which a refusal then contradicted)
        if (held := not_replaceable(folder / remote.file)) is not None:
            print(f"error: {name}: {held}", file=sys.stderr)
            failed += 1
            continue
        if found is not None:
            print(f"{name}: {found} is not the right file ({reason}): downloading it again", file=sys.stderr)
        try:
            path = fetch(remote, folder)
        except UserError as e:
            print(f"error: {name}: {e}", file=sys.stderr)
            failed += 1
            continue
        print(f"{name}: {path} ({path.stat().st_size:,} bytes, verified)", file=sys.stderr)
    if made and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    return 1 if failed else 0


def not_replaceable(target: Path) -> str | None:
    """Why a download must not be renamed onto `target` (the line, naming it), or None for a regular file or
    nothing there: a pipe, a folder or a user's symbolic link (dangling: to a file elsewhere) was replaced by a
    plain file, silently (hostile trial)."""
    if (what := not_a_file(target)) is not None:
        fix = "remove the link" if "symbolic link" in what else "move it"
        return f"cannot write {target}: it is {what}, not a regular file: {fix}, then download again"
    if os.path.islink(target):  # (to a file that is not the right one: the link is the user's, not replaced)
        return (f"cannot write {target}: it is a symbolic link (to {os.readlink(target)}), which the download would "
                "replace by a file: remove the link, or put the right file where it points, then download again")
    return None


def held_by_another(folder: str | os.PathLike | None, files: tuple[str, ...]) -> tuple[Path, str] | None:
    """The first of `files` in the folders weights are looked for in that is there but holds no regular file (a
    folder, a pipe, a broken link...), and what it is: `weights list` called such a name missing (hostile trial)."""
    for d in search_dirs(folder):
        for f in files:
            if os.path.lexists(d / f) and (what := not_a_file(d / f)) is not None:
                return d / f, what
    return None


def status(folder: str | os.PathLike | None, table: dict[str, Remote] | None = None) -> list[dict]:
    """`s2vt weights list`: per known file, {"name", "file", "status", "path", "reason"} (`file`: the name it is
    expected under, the one downloaded); the status is verified,
    present (found, not verified, but extract loads it: a sha256 other than its name's), unusable
    (extract would refuse it: empty, text, another network's, NaN; or its name holds no file: a folder, a pipe, a
    broken link) or missing."""
    table = table if table is not None else remotes()
    rows = []
    for name, remote in table.items():
        path = find_weights(name, folder, required=False)
        if path is None and (held := held_by_another(folder, SPECS[name].files if name in SPECS else (remote.file,))):
            rows.append({"name": name, "file": remote.file, "status": "unusable", "path": str(held[0]),
                         "reason": f"{held[1]}, not a regular file"})
            continue
        if path is None:
            # (the PCA is optional: its row read as one more file to fetch before extract runs; trial 130)
            rows.append({"name": name, "file": remote.file, "status": "missing", "path": None,
                         "reason": f"looked in {', '.join(str(d) for d in search_dirs(folder))}"
                         + ("; only features made with --vggish-pca need it" if name == "vggish_pca" else "")})
            continue
        reason = problem(path, path.name, remote.check)
        unusable = reason
        if reason and HASH_IN_NAME.search(path.name):  # (a sha256 mismatch: does it load all the same?)
            # the whole file is read a second time here, but only for a file that failed its sha256
            unusable = load_problem(path, remote.check) if remote.check else None
            reason = f"{unusable}; {reason}" if unusable else reason
        rows.append({"name": name, "file": remote.file,
                     "status": "verified" if not reason else "unusable" if unusable else "present",
                     "path": str(path), "reason": reason})
    return rows


def int8_cache_by_backbone() -> tuple[Path, dict[str, tuple[int, int]]]:
    """The int8 cache folder and, per backbone with cache files there (named NAME-DIGEST.pt, from its
    weights or seeded random ones), how many and their bytes: `weights list --json` gives each row its
    backbone's (the text output's last line, `int8_cache`, totals them)."""
    from .int8 import cache_dir, cache_files

    folder = cache_dir()
    held: dict[str, tuple[int, int]] = {}
    for f in cache_files(folder):
        with contextlib.suppress(OSError):  # (one removed meanwhile)
            count, total = held.get(f.name.rsplit("-", 1)[0], (0, 0))
            held[f.name.rsplit("-", 1)[0]] = (count + 1, total + os.lstat(f).st_size)
    return folder, held


def int8_cache() -> tuple[Path, int, int] | None:
    """The int8 cache folder (`int8.cache_dir`), how many cache files it holds and their bytes, or None when it
    holds none: it outlives `pip uninstall` (hundreds of MB), so `weights list` names it (hostile trial).
    Only the cache's own files (`int8.cache_files`): $S2VT_CACHE_DIR may name a folder shared with other files,
    which are neither counted nor called safe to remove (hostile trial). Sizes from st_size: nothing is read."""
    folder, held = int8_cache_by_backbone()
    count, total = sum(c for c, _ in held.values()), sum(b for _, b in held.values())
    return (folder, count, total) if count else None  # (no cache file frees nothing: not worth a line)
