"""ruff finds nothing in the tree (pyproject's [tool.ruff]); keeps it that way."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ruff_is_clean() -> None:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent))
    assert exe, "ruff is a test dependency: pip install -e '.[test]'"
    result = subprocess.run([exe, "check", "--no-cache", "."], check=False, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
