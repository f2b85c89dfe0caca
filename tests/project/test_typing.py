"""The package type-checks under `mypy --strict` (pyproject's [tool.mypy]); keeps it that way."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_strict_is_clean(tmp_path: Path) -> None:
    exe = shutil.which("mypy", path=str(Path(sys.executable).parent))
    assert exe, "mypy is a test dependency: pip install -e '.[test]'"
    result = subprocess.run([exe, "--cache-dir", str(tmp_path), "src", "simulator"], check=False, cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
