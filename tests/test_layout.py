"""The package layout docs/design.md describes: `extract` uses only s2vt's contract modules, and
those import nothing from `extract` or from the rest of `s2vt`."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = {"errors", "fileio", "jsonfile", "locks", "manifest", "store", "npyfile", "options", "device", "formats"}


def imports(path: Path) -> set[str]:
    """Absolute names of the project modules a file imports (relative imports resolved)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            out.add(base)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.split(".")[0] in ("s2vt", "extract")}


def test_extract_uses_only_s2vt_contracts():
    for path in (ROOT / "extract").rglob("*.py"):
        for mod in imports(path):
            if mod.startswith("s2vt"):
                assert mod.split(".")[1:2] and mod.split(".")[1] in CONTRACTS, f"{path.name} imports {mod}"


def test_contract_modules_depend_only_on_each_other():
    for name in CONTRACTS:
        for mod in imports(ROOT / "s2vt" / f"{name}.py"):
            assert mod.startswith("s2vt.") and mod.split(".")[1] in CONTRACTS, f"s2vt/{name}.py imports {mod}"


def test_each_contract_has_one_home():
    """No module of the same name in both packages (a stale copy would shadow the contract)."""
    for name in CONTRACTS:
        assert not (ROOT / "extract" / f"{name}.py").exists()


def test_design_lists_every_module():
    """docs/design.md's module table names every module of both packages (a module added without its row
    is a layout nobody described)."""
    design = (ROOT / "docs" / "design.md").read_text()
    table = "\n".join(line for line in design.splitlines() if line.startswith("| `"))
    for path in [*(ROOT / "s2vt").glob("*.py"), *(ROOT / "extract").glob("*.py")]:
        if path.name == "__init__.py":
            continue
        rel = path.relative_to(ROOT).as_posix()
        assert f"`{rel}`" in table, f"docs/design.md's module table has no row for {rel}"
    for path in (ROOT / "extract" / "backbones").glob("*.py"):  # (one row for the folder, each file named in it)
        assert path.name == "__init__.py" or f"`{path.name}`" in table, f"design.md does not name backbones/{path.name}"


def setup_keywords() -> dict:
    """setup.py's setup(...) keywords that are literals (read, not run: running it would build)."""
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "setup")
    out = {}
    for kw in call.keywords:
        try:
            out[kw.arg] = ast.literal_eval(kw.value)
        except ValueError:
            out[kw.arg] = kw.value  # (computed: the node)
    return out


def test_the_install_puts_no_generic_top_level_modules_in_site_packages():
    """py_modules=["train", "caption"] installed modules named `train` and `caption` into site-packages,
    where a user's own train.py shadows them or is shadowed (hostile trial). The console scripts run
    s2vt.__main__ and extract.__main__; train.py and caption.py are the checkout's scripts, and the
    docs' torchrun lines say the installed form (`-m s2vt train`) beside them."""
    assert not {"train", "caption"} & set(setup_keywords().get("py_modules", []))
    usage = (ROOT / "docs" / "usage.md").read_text(encoding="utf-8")
    assert "torchrun --nproc_per_node=2 -m s2vt train" in usage


def test_the_license_the_metadata_names_is_in_the_repository():
    """setup.py said license="MIT" with no LICENSE file, so neither the checkout nor the sdist or wheel
    held the text MIT requires to travel with the software (hostile trial)."""
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the s2vt authors\n")
    assert "THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND" in text
    keywords = setup_keywords()
    assert keywords["license"] == "MIT" and keywords["license_files"] == ["LICENSE"]


def test_the_sdist_holds_what_the_tests_need_and_the_wheel_only_the_packages(tmp_path):
    """The sdist held half of tests/ (no conftest.py, tests/__init__.py, tests/bad_input/, pytest.ini) and no
    docs/ or bench/, so the README's test command could not run from it (hostile trial). Built offline from a
    copy in tmp_path (setuptools makes and removes a release tree in its working folder: never the checkout's)."""
    import shutil
    import subprocess
    import sys
    import tarfile
    import zipfile

    src = tmp_path / "src"
    tops = ["setup.py", "MANIFEST.in", "README.md", "LICENSE", "pytest.ini", "train.py", "caption.py", "s2vt",
            "extract", "tests", "docs", "bench", ".ci"]
    skipped = shutil.ignore_patterns("__pycache__", "*.pyc", ".ci-venv")
    src.mkdir()
    for name in tops:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=skipped)
        else:
            shutil.copy2(ROOT / name, src / name)

    def build(command: str, *more: str) -> Path:
        out = tmp_path / command
        subprocess.run([sys.executable, "setup.py", "-q", command, "-d", str(out), *more], cwd=src, check=True,
                       capture_output=True, timeout=120)
        return next(out.iterdir())

    with tarfile.open(build("sdist")) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    wanted = {"LICENSE", "README.md", "pytest.ini", "setup.py", "train.py", "caption.py", "MANIFEST.in"}
    for folder in ("tests", "docs", "bench", ".ci"):
        wanted |= {p.relative_to(ROOT).as_posix() for p in (ROOT / folder).rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    assert not wanted - names, sorted(wanted - names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]

    pytest.importorskip("setuptools.command.bdist_wheel")  # (setuptools >= 70.1 builds wheels without `wheel`)
    wheel = build("bdist_wheel")
    tops = {n.split("/", 1)[0] for n in zipfile.ZipFile(wheel).namelist()}
    assert tops == {"s2vt", "extract", f"s2vt-{setup_version()}.dist-info"}, tops  # (no tests/, docs/, train.py)


def setup_version() -> str:
    import re
    return re.search(r'^__version__ = "([^"]+)"$', (ROOT / "s2vt" / "__init__.py").read_text(), re.M).group(1)
