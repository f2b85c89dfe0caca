"""The layer rule (DESIGN.md): lower layers never import higher ones; the simulator imports
nothing of mesodrive above the protocol, and only the CLI imports the simulator. Checked by
import-linter against pyproject.toml, and more strictly with grimp below.

grimp graphs are built without its on-disk cache: it is fast here (~30 ms), and a stale cache
once reported an import that was no longer in the source.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is a test dependency: pip install -e '.[test]'"
    result = subprocess.run([exe], check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_simulator_uses_only_the_protocol_layer() -> None:
    """Stricter than a list of forbidden modules: any future host module is covered too."""
    import grimp

    graph = grimp.build_graph("mesodrive", "mesosim", cache_dir=None)
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

    graph = grimp.build_graph("mesodrive", cache_dir=None)
    protocol = graph.find_descendants("mesodrive.protocol") | {"mesodrive.protocol"}
    offending = sorted(
        (importer, imported)
        for importer in protocol
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported.startswith("mesodrive") and imported not in protocol
    )
    assert offending == []


def test_only_the_cli_imports_the_simulator() -> None:
    """The driver reaches sim:// through the `mesodrive.transports` entry point, never by
    importing mesosim; a front end (the CLI) may start a simulator itself."""
    import grimp

    graph = grimp.build_graph("mesodrive", "mesosim", cache_dir=None)
    cli = graph.find_descendants("mesodrive.cli") | {"mesodrive.cli"}
    offending = sorted(
        (importer, imported)
        for importer in graph.find_descendants("mesodrive") | {"mesodrive"}
        if importer not in cli
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported == "mesosim" or imported.startswith("mesosim.")
    )
    assert offending == []


def test_transport_backends_import_only_the_base() -> None:
    """No import cycle through mesodrive.driver.transports: the registry knows the backends, a
    backend knows only `base`, and `base` knows only the driver's errors."""
    import grimp

    graph = grimp.build_graph("mesodrive", cache_dir=None)
    pkg = "mesodrive.driver.transports"
    allowed = {
        f"{pkg}.base": {"mesodrive.driver.errors"},
        f"{pkg}.serial": {f"{pkg}.base"},
        f"{pkg}.usb": {f"{pkg}.base"},
    }
    for module, may_import in allowed.items():
        imported = {
            m for m in graph.find_modules_directly_imported_by(module) if m.startswith("mesodrive")
        }
        assert imported <= may_import, (module, imported - may_import)
    cycles = sorted(
        (module, imported)
        for module in graph.find_descendants(pkg) | {pkg}
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.startswith("mesodrive") and graph.chain_exists(imported, module)
    )
    assert cycles == []
