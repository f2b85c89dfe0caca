"""`mesodrive run` / `resume` argument and input errors, in-process: clear message, right exit
code, nothing recorded and nothing sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesodrive.cli import main
from tests.controller.conftest import write_plan


def test_missing_plan_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path / "nope.toml"), "--yes", "--db", str(tmp_path / "r.db")]) == 2
    assert "nope.toml" in capsys.readouterr().err
    assert not (tmp_path / "r.db").exists()


def test_invalid_plan_names_field_value_and_limit_and_records_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = write_plan(tmp_path)
    plan.write_text(plan.read_text().replace("volume_ul = 10", "volume_ul = 30"))  # soft max 25
    assert main(["run", str(plan), "--yes", "--db", str(tmp_path / "r.db")]) == 1
    err = capsys.readouterr().err
    assert "defaults.volume_ul = 30" in err and "soft_max 25" in err
    assert not (tmp_path / "r.db").exists()


def test_resume_of_an_unknown_session_or_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["resume", "7", "--db", str(tmp_path / "none.db"), "--yes"]) == 2
    assert "none.db" in capsys.readouterr().err


def test_unreachable_device_is_a_device_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = write_plan(tmp_path)
    code = main(["run", str(plan), "--device", str(tmp_path / "ttyNOPE"), "--yes", "--db", str(tmp_path / "r.db")])
    assert code == 3
    assert "ttyNOPE" in capsys.readouterr().err
