"""The code's shape, checked: no long functions, and every import inside a function says why.

The layers themselves are import-linter's contracts (``.importlinter``, run by ``make test``)."""

import ast
import sys

import pytest

from tests.helpers import ROOT

PACKAGES = ("backbones", "detector", "tools")
LONGEST = 80  # lines of one function, decorators excluded; the aim is under 60


def _functions():
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield path.relative_to(ROOT), node


def test_no_function_is_longer_than_80_lines():
    long = [f"{p}:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)" for p, n in _functions()
            if n.end_lineno - n.lineno + 1 > LONGEST]  # fmt: skip
    assert not long, "split these functions:\n" + "\n".join(long)


def test_imports_inside_functions_say_why():
    """An import belongs at the top of its file; one inside a function (an optional dependency,
    a measured start-up cost) carries a comment on its line saying so."""
    bare = []
    for path, fn in _functions():
        lines = (ROOT / path).read_text().splitlines()
        for node in ast.walk(fn):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and "#" not in lines[node.lineno - 1]:
                bare.append(f"{path}:{node.lineno} {lines[node.lineno - 1].strip()}")
    assert not bare, "move to the top of the file, or say why on the line:\n" + "\n".join(sorted(set(bare)))


def test_the_checks_can_fail(tmp_path, monkeypatch):
    """Both checks find what they look for (a long function, a bare import) in a planted file."""
    pkg = tmp_path / "detector"
    pkg.mkdir()
    body = "".join(f"    x{i} = {i}\n" for i in range(LONGEST))
    (pkg / "bad.py").write_text(f"def long():\n{body}\n\ndef lazy():\n    import json\n    return json\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    with pytest.raises(AssertionError, match="long"):
        test_no_function_is_longer_than_80_lines()
    with pytest.raises(AssertionError, match="import json"):
        test_imports_inside_functions_say_why()
