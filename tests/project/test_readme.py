"""The README's driver-API example runs as written (docs that match behaviour)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def test_driver_api_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    match = re.search(r"## Driver API.*?```python\n(.*?)```", README.read_text(), re.DOTALL)
    assert match, "README lost its driver API example"
    exec(compile(match.group(1), "README.md (driver API)", "exec"), {})  # noqa: S102
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("SIM-")
    assert [line.split()[:2] for line in lines[1:]] == [["0", "done"], ["1", "done"], ["2", "done"]]
