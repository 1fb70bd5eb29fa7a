"""The README's and docs' own links: every relative link names a file in the repository and, with
`#anchor`, a heading of that file (as GitHub spells heading anchors), so a renamed heading or a
moved file is caught here rather than by a reader."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    in_code = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        m = None if in_code else re.match(r"#{1,6} (.*)", line)
        if m:
            a = slug(m.group(1))
            n = seen.get(a, 0)
            seen[a] = n + 1
            out.add(a if n == 0 else f"{a}-{n}")  # GitHub numbers a repeated heading's anchor
    return out


def links(page: Path):
    in_code = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if not in_code:
            yield from LINK.findall(line)


def test_slug_follows_github():
    assert slug("`s2vt serve` under load") == "s2vt-serve-under-load"
    assert slug("CUDA: extraction, training (`python bench/cuda.py`)") == "cuda-extraction-training-python-benchcudapy"
    assert slug("Refitting on train + val") == "refitting-on-train--val"


def test_relative_links_resolve():
    bad = []
    for page in PAGES:
        for target in links(page):
            if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                bad.append(f"{page.name}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                bad.append(f"{page.name}: {target} (no such heading)")
    assert not bad, "\n".join(bad)


def test_the_readme_says_the_commands_of_an_install_without_the_checkout():
    """README and usage.md spoke only of `python caption.py`, `python train.py` and `python -m extract`, which
    need the checkout: installed with `pip install .` they are nowhere (hostile trial). The Install section
    says their installed names, and each named one is real (an `s2vt` command, a console script)."""
    import ast

    from s2vt.cli import COMMANDS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    install = readme.split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    sentence = next((p for p in install.split("\n\n") if "`pip install .`" in p), "")
    for checkout, installed in (("python caption.py", "s2vt caption"), ("python train.py", "s2vt train"),
                                ("python -m extract", "s2vt-extract")):
        assert f"`{checkout}`" in sentence and f"`{installed}`" in sentence, (checkout, installed)
    assert {"caption", "train"} <= set(COMMANDS)
    setup = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    scripts = next(kw.value for node in ast.walk(setup) if isinstance(node, ast.Call)
                   for kw in node.keywords if kw.arg == "entry_points")
    assert "s2vt-extract=extract.__main__:main" in ast.literal_eval(scripts)["console_scripts"]
    # (the README's first two commands stay as they are)
    assert "pip install -e . && s2vt demo --out s2vt-demo" in readme and 'pip install -e ".[test]" && python -m pytest -q' in readme


def test_the_exit_codes_say_what_torchrun_exits_with():
    """usage.md's exit codes read as the launch's status under torchrun too, yet torchrun exits 1 after a rank's
    `error:` (2) or `interrupted:` (130, 143) line, with its own ChildFailedError or SignalException report
    (hostile trial). The section says so, once for both."""
    usage = (ROOT / "docs" / "usage.md").read_text(encoding="utf-8")
    codes = usage.split("\n### Exit codes\n", 1)[1].split("\n## ", 1)[0]
    said = next((p for p in codes.split("\n\n") if "torchrun" in p), "")
    assert "exits 1" in said and "`ChildFailedError`" in said and "`SignalException`" in said, said
    assert "once, from rank 0" in said and "SIGKILL" in said, said
