"""`records list` / `records show` tables: whole words at 80 columns in a terminal, plain
aligned lines through a pipe (issue 14)."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from mesodrive.cli import main, records_cmd
from mesodrive.records import RecordStore

from .helpers import shot, start

BOX = "─━│┃┏┓┗┛┡┩╇┳┻╋└┘┌┐├┤┬┴┼"
SESSIONS = [  # (patient, product, status): long codes, as clinics write them
    ("PT-2026-000042", "skin-polyrevitalising", "completed"),
    ("CLINIC-NORD/00017", "hair-revital", "aborted"),
    ("DEMO-0002", "skin-booster-ha", "e-stopped"),
]
CUT_REASON = "the operator changed the needle after an occlusion at the left cheek"
ALARM = "pressure 250 kPa held for 300 ms at point 2: occlusion, plunger stopped"
UNCERTAIN_WHY = "the device rebooted while the shot was moving"


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "r.db"
    with RecordStore(path) as store:
        for patient, product, status in SESSIONS:
            sid = start(store, plan_snapshot={"patient_ref": patient}, product={"id": product})
            done = shot(0, "done", point=1)
            short = shot(1, "done", point=2, delivered=7.25)
            assert short.measured is not None
            short = replace(short, measured={**short.measured, "flags": 2 | 32})
            unsure = replace(shot(2, "uncertain", point=3), reason=UNCERTAIN_WHY)
            for row in (done, short, unsure):
                store.record_shot(sid, row)
            store.record_alarm(sid, "OCCLUSION", ALARM)
            store.record_action(sid, "skip", f"point 4: {CUT_REASON}", operator="dr-a")
            store.end_session(sid, status, {"points_planned": 4})
    return path


def _terminal(monkeypatch: pytest.MonkeyPatch, width: int) -> io.StringIO:
    buf = io.StringIO()
    monkeypatch.setattr(records_cmd, "_console", lambda: Console(
        file=buf, width=width, force_terminal=True, color_system=None, highlight=False))
    return buf


def _words_whole(out: str, *texts: str) -> None:
    """Every word of every text is in the output as a whole word (not split, not cut)."""
    tokens = set(out.translate({ord(c): " " for c in BOX}).split())
    missing = [w for t in texts for w in t.split() if w not in tokens]
    assert missing == [], out


def test_list_at_80_columns_keeps_every_word_whole(
        db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    buf = _terminal(monkeypatch, 80)
    assert main(["records", "--db", str(db), "list"]) == 0
    out = buf.getvalue()
    title, *table = out.splitlines()
    assert title == f"sessions in {db}"  # a path is one word: never broken, however long
    assert max(len(line.rstrip()) for line in table) <= 80
    _words_whole(out, *(" ".join(s) for s in SESSIONS), "3/4 47.2 1")


def test_list_in_a_wide_terminal_is_a_table(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    buf = _terminal(monkeypatch, 140)
    assert main(["records", "--db", str(db), "list"]) == 0
    out = buf.getvalue()
    assert "─" in out  # the rich table's rule under its header
    _words_whole(out, *(" ".join(s) for s in SESSIONS))


def test_show_at_80_columns_keeps_every_word_whole(
        db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    buf = _terminal(monkeypatch, 80)
    assert main(["records", "--db", str(db), "show", "1"]) == 0
    out = buf.getvalue()
    assert max(len(line.rstrip()) for line in out.splitlines()) <= 80
    _words_whole(out, "cut short: 7.25 of 20 µL (occlusion, under-delivered)",
                 f"uncertain: {UNCERTAIN_WHY} (counted as delivered)", ALARM, CUT_REASON,
                 "PT-2026-000042 skin-polyrevitalising completed", "f" * 64)


def test_list_through_a_pipe_is_plain_aligned_lines(
        db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["records", "--db", str(db), "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"sessions in {db}"
    header, rows = lines[1], lines[2:]
    assert len(rows) == len(SESSIONS)  # one line per session, never wrapped
    assert not any(c in BOX for c in "".join(lines))
    assert all(line == line.rstrip() for line in lines)
    status_at, patient_at = header.index("status"), header.index("patient")
    for row, (patient, product, status) in zip(rows, SESSIONS, strict=True):
        assert row[status_at:].startswith(status) and row[patient_at:] == patient
        assert f"  {product}  " in row


def test_show_through_a_pipe_is_plain_lines_with_the_words_last(
        db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["records", "--db", str(db), "show", "1"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert not any(c in BOX for c in out)
    assert all(line == line.rstrip() for line in lines)
    assert "patient    PT-2026-000042" in lines
    assert any(line.endswith(ALARM) and line.startswith("20") for line in lines)
    assert any(line.endswith(f"dr-a      point 4: {CUT_REASON}") for line in lines)
    points = lines.index("what happened at each point (mm, µL, kPa)")
    assert lines[points + 1].split() == ["point", "depth", "reached", "planned", "given",
                                         "peak", "shot", "outcome"]
    assert lines[points + 3].endswith("cut short: 7.25 of 20 µL (occlusion, under-delivered)")


def test_a_rich_table_exactly_as_wide_as_the_terminal_keeps_words_whole() -> None:
    from mesodrive.cli.tables import Column, print_table, rich_width

    columns = [Column("n", right=True), Column("when"), Column("reason", free=True)]
    rows = [["1", "2026-11-30 13:02", CUT_REASON], ["22", "2026-11-30 13:03", ALARM]]
    width = rich_width(columns, rows)
    for w in (width, width - 1):  # the narrowest rich form, and one column less: plain
        buf = io.StringIO()
        print_table(Console(file=buf, width=w, force_terminal=True, color_system=None),
                    columns, rows, title="t")
        out = buf.getvalue()
        assert ("─" in out) == (w == width)
        assert max(len(line.rstrip()) for line in out.splitlines()) <= w
        _words_whole(out, CUT_REASON, ALARM, "2026-11-30 13:02 13:03")


def test_plain_lines_wrap_only_the_last_column_and_only_in_a_terminal() -> None:
    from mesodrive.cli.tables import Column, plain_lines

    columns = [Column("point", right=True), Column("outcome", free=True)]
    rows = [["7", f"uncertain: {UNCERTAIN_WHY} (counted as delivered)"]]
    piped = plain_lines(columns, rows)
    assert piped == ["point  outcome", f"    7  {rows[0][1]}"]
    narrow = plain_lines(columns, rows, width=40)
    assert len(narrow) > 2 and all(len(line) <= 40 for line in narrow)
    assert all(line.startswith(" " * 7) for line in narrow[2:])  # under the outcome column
    assert " ".join(" ".join(line.split()) for line in narrow[1:]) == f"7 {rows[0][1]}"
