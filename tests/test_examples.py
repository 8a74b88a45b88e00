"""Every script in examples/ runs to the end (in a scratch directory)."""

import pathlib
import runpy

import pytest

# examples that take over 3 s (pytest -m "not slow" skips them)
SLOW = {"plot_many_users.py"}
EXAMPLES = [
    pytest.param(path, marks=pytest.mark.slow) if path.name in SLOW else path
    for path in sorted((pathlib.Path(__file__).parents[1] / "examples").glob("*.py"))
]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out.strip()  # each example reports something
    if "matplotlib" in path.read_text():  # an example with a plot saves it
        pytest.importorskip("matplotlib", reason="plots need matplotlib")
        assert list(tmp_path.glob("*.png")), "the example saved no plot"
