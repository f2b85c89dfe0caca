"""The records layer imports nothing else of mesodrive (the controller maps driver shots)."""

from __future__ import annotations

import ast
from pathlib import Path

import mesodrive.records

PACKAGE = Path(mesodrive.records.__file__).parent


def test_records_import_only_stdlib_platformdirs_and_themselves() -> None:
    offending = []
    for source in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offending += [(source.name, n) for n in names
                          if n.split(".")[0] == "mesodrive" and not n.startswith("mesodrive.records")]
    assert offending == []
