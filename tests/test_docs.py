"""The documentation's promises: every public class and function documents a
runnable example, and the code in the quick start and the README runs."""

import importlib
import inspect
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).parents[1]
PUBLIC_MODULES = [
    "skrt",
    "skrt.query",
    "skrt.data",
    "skrt.skactiveml",
    "skrt.modal",
    "skrt.exceptions",
]


def _public_objects():
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        names = getattr(module, "__all__", None) or [
            n for n in vars(module) if not n.startswith("_")
        ]
        for attr in names:
            obj = getattr(module, attr)
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and (
                obj.__module__.startswith("skrt")
            ):
                yield f"{name}.{attr}", obj


@pytest.mark.parametrize("name, obj", list(_public_objects()), ids=lambda v: str(v))
def test_public_names_have_numpydoc_with_examples(name, obj):
    doc = inspect.getdoc(obj) or ""
    assert "Examples\n--------" in doc, f"{name} has no Examples section"
    assert ">>> " in doc, f"{name}'s Examples section has no code"


def _python_blocks(path):
    text = path.read_text()
    if path.suffix == ".md":
        return re.findall(r"```python\n(.*?)```", text, re.S)
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", text)
    return [re.sub(r"^   ", "", b, flags=re.M) for b in blocks]


@pytest.mark.parametrize("doc", ["docs/quickstart.rst", "README.md"])
def test_documented_code_runs(doc, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = _python_blocks(ROOT / doc)
    assert blocks, f"no python code in {doc}"
    for block in blocks:
        exec(compile(block, doc, "exec"), {"__name__": "__main__"})
