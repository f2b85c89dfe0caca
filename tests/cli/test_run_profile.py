"""`mesodrive run` and the calibration profile, in-process on the simulator: it prints the
profile it applies (id, date, expiry), `records show` and the export name it on every shot; an
expired one is not applied and said so; a real device without a valid profile is refused
(exit 3, nothing recorded) unless `--no-profile-reason` is given, which is recorded."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from mesodrive.cli import main
from mesodrive.records import RecordStore
from tests.controller.conftest import write_plan
from tests.records.profile_helpers import TODAY, new_profile, store_profile

REAL = "sim://?seed=4&realtime=1&serial=INJ-0042"  # identifies as a real device


def _run(plan: Path, db: Path, *extra: str) -> int:
    return main(["run", str(plan), "--db", str(db), "--yes", *extra])


def test_run_prints_the_profile_it_applies_and_every_shot_records_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    pid = store_profile(db)
    expires = (TODAY + dt.timedelta(days=30)).isoformat()
    assert _run(write_plan(tmp_path), db) == 0
    out = " ".join(capsys.readouterr().out.split())  # rich wraps lines at the terminal width
    assert f"calibration profile {pid} (SIM-0001-depth-test): depth calibration of " \
           f"{TODAY.isoformat()} by QA Bench" in out
    assert f"valid through {expires}" in out
    assert main(["records", "--db", str(db), "show", "1"]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert f"profile {pid} (SIM-0001-depth-test)" in shown and f"shots by profile: {pid} ×9" in shown
    export = tmp_path / "s.csv"
    assert main(["records", "--db", str(db), "export", "1", "--format", "csv", "-o", str(export)]) == 0
    with export.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if not r["session"].startswith("#")]
    assert len(rows) == 9 and {r["profile_id"] for r in rows} == {str(pid)}


def test_an_expired_profile_is_not_applied_and_run_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    when = TODAY - dt.timedelta(days=2)
    pid = store_profile(db, new_profile(expires=when))
    assert _run(write_plan(tmp_path), db) == 0  # the simulator: a warning, then it treats
    out = " ".join(capsys.readouterr().out.split())
    assert f"calibration profile {pid} (SIM-0001-depth-test) expired on {when.isoformat()}: " \
           f"NOT applied" in out
    assert "no valid calibration profile for SIM-0001" in out
    with RecordStore(db, readonly=True) as store:
        assert {r.profile_id for r in store.session(1).shots} == {None}


def test_a_real_device_without_a_profile_is_refused_and_nothing_recorded(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    assert _run(write_plan(tmp_path), db, "--device", REAL) == 3
    err = " ".join(capsys.readouterr().err.split())
    assert "the device INJ-0042 has no valid calibration profile for needle type 'standard'" \
           in err
    assert "--no-profile-reason TEXT" in err and "nothing recorded" in err
    assert "Traceback" not in err
    assert not db.exists()


def test_the_override_treats_a_real_device_and_is_on_the_record(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    reason = "profile lost in the move; calibration booked for Friday"
    assert _run(write_plan(tmp_path), db, "--device", REAL, "--no-profile-reason", reason) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "treating UNCALIBRATED on a technician's override" in out and reason in out
    assert main(["records", "--db", str(db), "show", "1"]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert f"technician's override: {reason}" in shown
    assert "calibration-override" in shown


def test_a_profile_for_another_needle_type_is_not_used(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    store_profile(db, new_profile("INJ-0042", needle="32G"))
    assert _run(write_plan(tmp_path), db, "--device", REAL, "--needle", "30G") == 3
    assert "for needle type '30G'" in " ".join(capsys.readouterr().err.split())
