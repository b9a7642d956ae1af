"""Every `>>>` example in hiero's docstrings runs and gives what it shows."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import hiero

MODULES = sorted(m.name for m in pkgutil.walk_packages(hiero.__path__, "hiero."))


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"


def test_the_readme_tree_names_every_module():
    """README.md's Files section prints the whole tree with a line per file (house style): a module added
    without its line fails here."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    files = (root / "README.md").read_text().split("## Files", 1)[1]
    missing = [str(f.relative_to(root)) for f in sorted((root / "hiero").rglob("*.py"))
               if f.name != "__init__.py" and f" {f.name} " not in files]
    assert missing == []
