"""Connecting errors in words (issue 14): what was tried, the likely causes, and where to look."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _run(device: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mesodrive", "run", "examples/face.toml", "--yes",
                           "--device", device, "--db", str(tmp_path / "r.db")],
                          capture_output=True, text=True, timeout=60, check=False,
                          stdin=subprocess.DEVNULL)


def test_a_port_where_nothing_answers(tmp_path: Path) -> None:
    master, slave = os.openpty()  # a real port with no injector behind it
    try:
        out = _run(os.ttyname(slave), tmp_path)
    finally:
        os.close(master)
        os.close(slave)
    assert out.returncode == 3, out.stderr
    assert "no injector answered" in out.stderr and "mesodrive devices" in out.stderr
    assert "wrong port" in out.stderr and "another program" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_port_that_does_not_exist(tmp_path: Path) -> None:
    out = _run("/dev/does-not-exist", tmp_path)
    assert out.returncode == 3
    assert "could not be opened" in out.stderr and "mesodrive devices" in out.stderr
    assert "Traceback" not in out.stderr
