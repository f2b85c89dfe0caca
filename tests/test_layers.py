"""The layer rule (DESIGN.md): lower layers never import higher ones; the simulator imports
nothing of mesodrive above the protocol. Checked by import-linter against pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is a test dependency: pip install -e '.[test]'"
    result = subprocess.run([exe], check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_simulator_uses_only_the_protocol_layer() -> None:
    """Stricter than a list of forbidden modules: any future host module is covered too."""
    import grimp

    graph = grimp.build_graph("mesodrive", "mesosim")
    offending = sorted(
        (importer, imported)
        for importer in graph.find_descendants("mesosim") | {"mesosim"}
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported.startswith("mesodrive")
        and imported != "mesodrive.protocol"
        and not imported.startswith("mesodrive.protocol.")
    )
    assert offending == []


def test_protocol_layer_imports_nothing_above_it() -> None:
    import grimp

    graph = grimp.build_graph("mesodrive")
    protocol = graph.find_descendants("mesodrive.protocol") | {"mesodrive.protocol"}
    offending = sorted(
        (importer, imported)
        for importer in protocol
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported.startswith("mesodrive") and imported not in protocol
    )
    assert offending == []
