"""`mesodrive report`, `mesodrive records course` and `mesodrive run` too early in a course,
end to end as a user runs them (a subprocess): exit codes, files, and clear errors without a
traceback for an unknown session or patient, an output path that cannot be written, a
missing database and tampered records."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mesodrive.records import RecordStore
from tests.reports.session import SKIP_REASON, eventful_session, plan_file, treat


def mesodrive(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "mesodrive", *args], check=False,
                            capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL)
    assert "Traceback" not in result.stderr + result.stdout
    return result


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    return eventful_session(tmp_path_factory.mktemp("records"))


def test_report_writes_the_page_and_prints_the_head(recorded: tuple[Path, int],
                                                    tmp_path: Path) -> None:
    db, session = recorded
    out = tmp_path / "report.html"
    r = mesodrive("report", str(session), "--db", str(db), "-o", str(out))
    assert r.returncode == 0, r.stderr
    with RecordStore(db, readonly=True) as store:
        head = store.verify().head
    assert f"chain head: {head}" in r.stderr and f"wrote {out}" in r.stderr
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Records verified" in page and head in page
    assert f"skipped: {SKIP_REASON}" in page and page.count("<svg") == 2


def test_report_refuses_bad_input_with_a_clear_error(recorded: tuple[Path, int],
                                                     tmp_path: Path) -> None:
    db, session = recorded
    cases = [
        (["report", "99", "--db", str(db), "-o", str(tmp_path / "a.html")], "no session 99"),
        (["report", "0", "--db", str(db), "-o", str(tmp_path / "a.html")],
         "is not a session number"),
        (["report", str(session), "--db", str(db), "-o", str(tmp_path / "no" / "a.html")],
         "does not exist"),
        (["report", str(session), "--db", str(db), "-o", str(tmp_path)], "it is a folder"),
        (["report", str(session), "--db", str(db), "-o", str(db)],
         "that is the records database"),
        (["report", str(session), "--db", str(tmp_path / "none.db"), "-o",
          str(tmp_path / "a.html")], "no records database at"),
    ]
    for args, words in cases:
        r = mesodrive(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith("error: ") and words in r.stderr, (args, r.stderr)
    assert not (tmp_path / "a.html").exists()
    readonly = tmp_path / "ro.html"
    readonly.write_text("keep")
    readonly.chmod(0o444)
    r = mesodrive("report", str(session), "--db", str(db), "-o", str(readonly))
    if r.returncode != 0:  # root may write anything: then the report is simply written
        assert r.returncode == 2 and "read-only" in r.stderr and readonly.read_text() == "keep"


def test_report_of_tampered_records_says_so_and_exits_1(recorded: tuple[Path, int],
                                                        tmp_path: Path) -> None:
    db, session = recorded
    copy = tmp_path / "records.db"
    shutil.copy(db, copy)
    conn = sqlite3.connect(copy)
    conn.execute("DROP TRIGGER journal_no_update")
    conn.execute("UPDATE journal SET body = replace(body, 'aborted', 'completed') "
                 "WHERE kind = 'session_end'")
    conn.commit()
    conn.close()
    out = tmp_path / "r.html"
    r = mesodrive("report", str(session), "--db", str(copy), "-o", str(out))
    assert r.returncode == 1 and "do not verify" in r.stderr
    assert "RECORDS VERIFICATION FAILED" in out.read_text(encoding="utf-8")


def test_records_course_shows_the_patient_and_refuses_an_unknown_one(
        recorded: tuple[Path, int]) -> None:
    db, _ = recorded
    r = mesodrive("records", "--db", str(db), "course", "TEST")
    assert r.returncode == 0, r.stderr
    assert "skin course" in r.stdout and "first of the course" in r.stdout
    assert "skin-booster-ha" in r.stdout and "14–28 days" in r.stdout
    assert "next session from" in r.stdout
    r = mesodrive("records", "--db", str(db), "course", "NOBODY")
    assert r.returncode == 2 and "no sessions for patient 'NOBODY'" in r.stderr
    r = mesodrive("records", "--db", str(db), "course", "test")
    assert r.returncode == 2 and "did you mean 'TEST'" in r.stderr
    r = mesodrive("records", "--db", str(db), "course", "TE\x1bST")
    assert r.returncode == 2 and "control character" in r.stderr and "\x1b" not in r.stderr
    r = mesodrive("records", "--db", str(db.parent / "none.db"), "course", "TEST")
    assert r.returncode == 2 and "no records database at" in r.stderr


def test_run_too_early_needs_a_reason(tmp_path: Path) -> None:
    """A second session the same day: refused without --interval-reason (nothing recorded),
    run and recorded with it; `records course` then shows it flagged with the reason."""
    db = tmp_path / "records.db"
    plan = plan_file(tmp_path)
    treat(db, plan)  # session 1, time-warped in-process
    device = "sim://?seed=2&realtime=1"
    r = mesodrive("run", str(plan), "--yes", "--db", str(db), "--device", device)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "too early" in r.stdout + r.stderr and "--interval-reason" in r.stderr
    assert "nothing was started" in r.stderr
    with RecordStore(db, readonly=True) as store:
        assert len(store.sessions()) == 1
    r = mesodrive("run", str(plan), "--yes", "--db", str(db), "--device", device,
                  "--interval-reason", "redo after a bruise stopped session 1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "WARNING: earlier than the product's recommended interval" in r.stdout
    r = mesodrive("records", "--db", str(db), "course", "TEST")
    assert r.returncode == 0
    assert "TOO EARLY — reason: redo after a bruise stopped session 1" in r.stdout
