"""`mesodrive run` / `resume` in-process: the plan is checked against its product library before
anything connects, and nothing stored is ever shown as markup or as a traceback."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from mesodrive.cli import main
from mesodrive.records import RecordStore
from tests.controller.conftest import write_plan
from tests.records.helpers import filled_db, start
from tests.records.test_damaged import DAMAGE


def _no_device(*_: object) -> None:
    raise AssertionError("the device was connected before the plan was checked")


@pytest.mark.parametrize("edit, words", [
    (("volume_ul = 10", "volume_ul = 30"), ["defaults.volume_ul = 30", "soft_max 25"]),
    (('product = "skin-booster-ha"', 'product = "no-such-product"'), ["no-such-product"]),
    (('indication = "skin"', 'indication = "hair"'), ["indication"]),
])
def test_a_plan_or_library_error_is_found_before_connecting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        edit: tuple[str, str], words: list[str]) -> None:
    plan = write_plan(tmp_path)
    plan.write_text(plan.read_text().replace(*edit))
    monkeypatch.setattr("mesodrive.cli.run_cmd._connect", _no_device)
    assert main(["run", str(plan), "--yes", "--db", str(tmp_path / "r.db")]) == 1
    err = capsys.readouterr().err
    assert "is invalid" in err and "not allowed on this device" not in err
    for word in words:
        assert word in err
    assert not (tmp_path / "r.db").exists()


def test_only_a_device_capability_error_is_not_allowed_on_this_device(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = write_plan(tmp_path)  # 1.0 mm deep: fine for the product, too shallow for this device
    device = "sim://?seed=1&realtime=1&depth_min_um=1500"
    assert main(["run", str(plan), "--yes", "--device", device,
                 "--db", str(tmp_path / "r.db")]) == 1
    err = capsys.readouterr().err
    assert "not allowed on this device (nothing was sent)" in err and "depth_mm" in err
    assert not (tmp_path / "r.db").exists()


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_resume_of_a_damaged_records_file_says_so_and_leaves_it_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        damage: str) -> None:
    db = tmp_path / "r.db"
    filled_db(db, 60)
    DAMAGE[damage](db)
    gc.collect()  # the damaging connection closes (and checkpoints) now, not during the check
    before = db.read_bytes()
    monkeypatch.setattr("mesodrive.cli.run_cmd._connect", _no_device)
    assert main(["resume", "1", "--db", str(db), "--yes"]) == 1
    err = capsys.readouterr().err
    assert "the records file is damaged" in err and "records verify" in err
    assert db.read_bytes() == before


def test_resume_shows_stored_text_as_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    with RecordStore(db) as store:
        sid = start(store)
        store.end_session(sid, "[/oops] [bold]done", {})  # not markup: rich would raise on it
    monkeypatch.setattr("mesodrive.cli.run_cmd._connect", _no_device)
    assert main(["resume", str(sid), "--db", str(db), "--yes"]) == 1
    assert f"session {sid} already ended: [/oops] [bold]done" in capsys.readouterr().out


def test_a_device_session_is_not_resumed(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "r.db"
    with RecordStore(db) as store:
        sid = start(store, mode="device", plan_snapshot={"device_action": "clear"})
    monkeypatch.setattr("mesodrive.cli.run_cmd._connect", _no_device)
    assert main(["resume", str(sid), "--db", str(db), "--yes"]) == 1
    assert "not a treatment" in capsys.readouterr().err
