"""Run the Examples sections of every public docstring."""

import doctest
import importlib
import pkgutil

import pytest

import skrt

MODULES = [skrt] + [
    importlib.import_module(f"skrt.{m.name}")
    for m in pkgutil.iter_modules(skrt.__path__)
    if m.name not in ("__main__",)
]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
