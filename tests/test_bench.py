"""bench/ scripts a README command runs: a missing benchmark dependency is one line, not a traceback."""
import runpy
import sys

import pytest

from .conftest import REPO


def test_text_baseline_without_sklearn_names_the_extra(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # (import sklearn now fails as if not installed)
    monkeypatch.setattr(sys, "argv", ["text_baseline.py", "--manifest", str(tmp_path / "M"),
                                      "--out", str(tmp_path / "RUN")])
    with pytest.raises(SystemExit) as e:
        runpy.run_path(str(REPO / "bench" / "text_baseline.py"), run_name="__main__")
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "scikit-learn" in err and '".[bench]"' in err and "Traceback" not in err
    assert not (tmp_path / "RUN").exists()
