"""`run` shows what is about to happen before anything moves (issue 14): the plan summary that
`plan check` prints comes before the screening and the session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.controller.conftest import write_plan


def test_run_without_a_terminal_shows_the_plan_summary_first(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    out = subprocess.run([sys.executable, "-m", "mesodrive", "run", str(plan), "--yes",
                          "--db", str(tmp_path / "r.db")], capture_output=True, text=True,
                         timeout=120, check=False, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    for label in ("patient", "product", "points", "depth", "volume", "estimate"):
        assert f"\n{label}" in text, label
    assert text.index("estimate") < text.index("session 1")
