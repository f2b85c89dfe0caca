"""`records show` says what happened at each point in a clinician's words; the counts agree
with `list`; `list`/`show`/`export` warn when the chain does not verify."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesodrive.cli import main
from mesodrive.records import RecordStore, point_outcomes

from .helpers import shot, start

# flags as the device reports them (firmware_protocol/messages.toml ShotFlag)
ABORTED, OCCLUSION = 1, 2
PLAN = {"patient_ref": "PT-7", "points": [{"point": n, "volume_ul": 20.0, "depth_mm": 2.5}
                                         for n in range(1, 9)]}


def _session(path: Path) -> None:
    with RecordStore(path) as store:
        sid = start(store, plan_snapshot=PLAN)

        def sent(index: int, point: int) -> None:
            store.record_shot(sid, shot(index, point=point), sync=True)
            store.record_shot(sid, shot(index, "accepted", point=point))

        sent(0, 1)
        store.record_shot(sid, shot(0, "done", point=1))  # point 1: delivered
        sent(1, 2)
        short = shot(1, "done", point=2, delivered=12.5)
        assert short.measured is not None
        store.record_shot(sid, replace(short, measured={**short.measured,
                                                        "flags": ABORTED | OCCLUSION}))
        sent(2, 3)  # point 3: done, but the row kept the reason of a status query
        store.record_shot(sid, replace(shot(2, "done", point=3),
                                       reason="still queued on the device"))
        sent(3, 4)  # a pause: shot 3 cancelled (its last row lost the point), re-sent as 4
        store.record_action(sid, "pause", "operator pause")
        store.record_shot(sid, shot(3, "cancelled", point=-1))
        store.record_action(sid, "resume", "operator resume")
        sent(4, 4)
        store.record_shot(sid, shot(4, "done", point=4))
        store.record_action(sid, "skip", "point 5: patient flinched")  # point 5: skipped
        sent(5, 6)
        store.record_shot(sid, replace(shot(5, "uncertain", point=6),
                                       reason="device rebooted since it was sent"))
        # point 7: never sent. point 8: refused at the contact check (needle never moved).
        sent(6, 8)
        never = shot(6, "done", point=8, delivered=0.0)
        assert never.measured is not None
        store.record_shot(sid, replace(never, measured={**never.measured, "flags": ABORTED,
                                                        "reached_depth_mm": 0.0}))
        store.end_session(sid, "aborted", {"skipped": {"5": "patient flinched"}})


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "r.db"
    _session(path)
    return path


EXPECTED = {
    1: "delivered",
    2: "cut short: 12.5 of 20 µL (stopped by the device, occlusion)",
    3: "delivered",
    4: "delivered",
    5: "skipped: patient flinched",
    6: "uncertain: device rebooted since it was sent (counted as delivered)",
    7: "not done",
    8: "not done: stopped by the device before the needle moved",
}


def test_each_point_says_what_happened(db: Path) -> None:
    with RecordStore(db, readonly=True) as ro:
        detail = ro.session(1)
        listed = ro.sessions()[0]
    outcomes = {o.point: o for o in point_outcomes(detail)}
    assert {p: o.text for p, o in outcomes.items()} == EXPECTED
    assert outcomes[4].shots == (3, 4)  # shot numbers drift from point numbers: both shown
    assert outcomes[2].delivered_ul == 12.5
    # delivered, cut short and uncertain count as given; the refused point 8 does not
    assert detail.summary.points_done == 5 == listed.points_done
    assert detail.summary == listed


def test_show_prints_the_outcomes(db: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["records", "--db", str(db), "show", "1"]) == 0
    out = capsys.readouterr().out
    # Not a terminal: plain aligned lines, figures first, the outcome in words last.
    lines = out.split("point  depth", 1)[1].splitlines()[1:]
    rows = {int(cells[0]): cells[-1] for line in lines
            if (cells := re.split(r"\s{2,}", line.strip())) and cells[0].isdigit()}
    assert rows == EXPECTED
    assert "still queued" not in out  # a stale reason never explains a delivered point
    assert "5/8 given" in out


def _tamper(db: Path) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TRIGGER journal_no_update")
    body = json.loads(conn.execute("SELECT body FROM journal WHERE id = 4").fetchone()[0])
    body["measured"]["delivered_ul"] = 30.0
    conn.execute("UPDATE journal SET body = ? WHERE id = 4", (json.dumps(body),))
    conn.close()


@pytest.mark.parametrize("action", [["list"], ["show", "1"], ["export", "1", "--format", "csv"]])
def test_readers_warn_when_the_chain_does_not_verify(db: Path, action: list[str],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["records", "--db", str(db), *action]) == 0
    assert "warning" not in capsys.readouterr().err
    _tamper(db)
    assert main(["records", "--db", str(db), *action]) == 0
    err = capsys.readouterr().err
    assert "warning: these records do not verify: row 4 altered" in err, err


STATES = sorted(["pending", "accepted", "done", "rejected", "cancelled", "not_received",
                 "uncertain", "skipped"])


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.integers(0, 5), st.sampled_from([-1, 1, 2, 3, 4]),
                               st.sampled_from(STATES), st.sampled_from([0, 1, 2, 32]),
                               st.sampled_from([0.0, 12.5, 20.0])), max_size=25))
def test_list_show_and_outcomes_agree(tmp_path_factory: pytest.TempPathFactory,
                                      rows: list[tuple[int, int, str, int, float]]) -> None:
    """The SQL aggregate behind `list`, the detail behind `show` and the per-point outcomes
    count the same points as given, whatever the shot rows say."""
    path = tmp_path_factory.mktemp("agree") / "r.db"
    with RecordStore(path) as store:
        sid = start(store, plan_snapshot=PLAN)
        for index, point, state, flags, delivered in rows:
            row = shot(index, state, point=point, delivered=delivered)
            if row.measured is not None:
                row = replace(row, measured={**row.measured, "flags": flags,
                                             "reached_depth_mm": 0.0 if delivered == 0 else 2.4})
            store.record_shot(sid, row)
        store.flush()
        listed = store.sessions()[0]
        detail = store.session(sid)
    outcomes = point_outcomes(detail)
    assert listed == detail.summary
    assert detail.summary.points_done == sum(o.counts_delivered for o in outcomes
                                             if o.point in {r.point for r in detail.shots})


def test_an_open_session_shows_unsettled_shots(tmp_path: Path) -> None:
    """A crashed run: the shot was journalled (and maybe fired), nothing settled it yet."""
    path = tmp_path / "r.db"
    with RecordStore(path) as store:
        sid = start(store, plan_snapshot=PLAN)
        store.record_shot(sid, shot(0, point=1), sync=True)
        store.record_shot(sid, shot(0, "accepted", point=1), sync=True)
        detail = store.session(sid)
    first = point_outcomes(detail)[0]
    assert (first.point, first.outcome, first.counts_delivered) == (1, "not settled", False)
    assert "`mesodrive resume` settles it" in first.text
