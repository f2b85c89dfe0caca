"""`mesodrive calibrate list | show ID | certificate ID -o FILE`: the profiles kept in the
records database, read-only, with clear errors for an absent database, an unknown id, a bad
output file and a damaged profile row."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from mesodrive.cli import main
from tests.records.profile_helpers import TODAY, new_profile, store_profile


def _calibrate(*args: str) -> int:
    return main(["calibrate", *args])


def test_list_and_show_read_the_stored_profiles(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    first = store_profile(db, new_profile("INJ-7", needle="32G"))
    second = store_profile(db)
    assert _calibrate("list", "--db", str(db)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [str(first), str(second)]
    assert "INJ-7" in lines[0] and "needle 32G" in lines[0] and "valid through" in lines[0]
    assert _calibrate("list", "--db", str(db), "--device-serial", "INJ-7") == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    assert _calibrate("show", str(second), "--db", str(db)) == 0
    shown = capsys.readouterr().out
    assert "SIM-0001-depth-test" in shown and "QA Bench" in shown
    assert "scale 0.95000, offset -0.0500 mm" in shown and "gain 1.04000" in shown


def test_an_expired_profile_is_listed_as_expired(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    store_profile(db, new_profile(expires=TODAY.replace(year=TODAY.year - 1)))
    assert _calibrate("list", "--db", str(db)) == 0
    assert "EXPIRED" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".html", ".json"])
def test_the_certificate_is_written_again_from_the_records(
        tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    made = new_profile()
    pid = store_profile(db, made)
    out = tmp_path / f"cert{suffix}"
    assert _calibrate("certificate", str(pid), "-o", str(out), "--db", str(db)) == 0
    text = out.read_text(encoding="utf-8")
    if suffix == ".json":
        assert json.loads(text) == made.certificate
    else:
        assert made.certificate_id in text and "<html" in text.lower()


def test_bad_input_is_a_clear_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    assert _calibrate("list", "--db", str(db)) == 2  # no database: looking never creates one
    assert "no records database" in capsys.readouterr().err and not db.exists()
    store_profile(db)
    assert _calibrate("show", "99", "--db", str(db)) == 2
    assert "no calibration profile 99" in capsys.readouterr().err
    assert _calibrate("certificate", "1", "-o", str(tmp_path / "c.pdf"), "--db", str(db)) == 2
    assert "must end in .html or .json" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _calibrate("show", "one", "--db", str(db))
    assert "profile id 'one' is not a number" in capsys.readouterr().err


def test_a_damaged_profile_row_is_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    pid = store_profile(db)
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER journal_no_update")
    conn.execute("UPDATE journal SET body = json_remove(body, '$.expires') WHERE id = ?", (pid,))
    conn.commit()
    conn.close()
    assert _calibrate("show", str(pid), "--db", str(db)) == 1
    err = capsys.readouterr().err
    assert f"journal row {pid} is not a calibration profile" in err and "expires" in err
    assert "records verify" in err and "Traceback" not in err
