"""The treatment report from real records: what it says about a real simulated session, a
tampered database, stored text that tries to be markup, and sessions without measurements or
without a plan to draw."""

from __future__ import annotations

import re
import shutil
import sqlite3
from dataclasses import asdict
from pathlib import Path

import pytest

from mesodrive.records import RecordStore, ShotRow
from mesodrive.reports import build_report, render_html, session_report_html
from mesodrive.reports.maps import depth_map, volume_map
from tests.records.face_session import face_plan
from tests.records.helpers import shot, start
from tests.reports.session import SKIP_REASON, eventful_session


@pytest.fixture(scope="module")
def eventful(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    return eventful_session(tmp_path_factory.mktemp("eventful"))


def _text(page: str) -> str:
    """The page's words (tags and the SVG maps removed, entities kept)."""
    page = re.sub(r"<svg.*?</svg>", "", page, flags=re.DOTALL)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_the_report_of_a_real_session_says_what_happened(eventful: tuple[Path, int]) -> None:
    db, session = eventful
    with RecordStore(db, readonly=True) as store:
        report = build_report(store, session)
        head = store.verify().head
    t = report.totals
    by_point = {p.outcome.point: p.outcome for p in report.points}
    assert t.planned_points == 9 and len(report.points) == 9
    assert by_point[1].outcome == "cut short"
    assert by_point[4].outcome == "skipped" and SKIP_REASON in by_point[4].text
    assert t.skipped == 1 and t.cut_short == 1 and t.uncertain >= 1
    assert t.given_points == t.delivered + t.cut_short + t.uncertain
    assert t.delivered_ul == pytest.approx(sum(p.outcome.delivered_ul for p in report.points))
    assert t.planned_ul == 90 and t.delivered_ul < 90
    assert report.chain.ok and report.chain.head == head

    words = _text(render_html(report))
    for expected in (f"Treatment report — session {session}", "Records verified", head,
                     "TEST", "skin-booster-ha", "Skin booster", "SIM-0001", "identity",
                     "dr-r", "confirmed in advance by the --yes flag", "first of the course",
                     "AIR at point 1", "refill-due", "recovery:skip",
                     f"skipped: {SKIP_REASON}", "cut short:", "uncertain",
                     f"{t.skipped} skipped",
                     f"{t.uncertain} uncertain", "aborted"):
        assert expected in words, expected
    assert "VERIFICATION FAILED" not in words


def test_the_maps_colour_volume_and_depth_error(eventful: tuple[Path, int]) -> None:
    db, session = eventful
    with RecordStore(db, readonly=True) as store:
        report = build_report(store, session)
    volume = volume_map(report)
    depth = depth_map(report)
    assert volume is not None and volume.startswith("<svg")
    assert depth is not None and depth[0] == "depth error" and depth[1].startswith("<svg")
    measured = [p for p in report.points if p.depth_error_mm is not None]
    assert measured and all(abs(p.depth_error_mm or 0) < 0.5 for p in measured)
    # a point that received nothing has no depth error, whatever its row says
    assert next(p for p in report.points if p.outcome.point == 4).depth_error_mm is None
    page = render_html(report)
    assert page.count("<svg") == 2 and "<script" not in page


def test_tampered_records_make_the_report_say_verification_failed(
        eventful: tuple[Path, int], tmp_path: Path) -> None:
    db, session = eventful
    copy = tmp_path / "records.db"
    shutil.copy(db, copy)
    conn = sqlite3.connect(copy)
    conn.execute("DROP TRIGGER journal_no_update")
    conn.execute("UPDATE journal SET body = replace(body, 'bruise', 'bluise') "
                 "WHERE kind = 'action' AND body LIKE '%bruise%'")
    conn.commit()
    conn.close()
    with RecordStore(copy, readonly=True) as store:
        report = build_report(store, session)
        page = session_report_html(store, session)
    assert not report.chain.ok and "altered" in report.chain.problem
    words = _text(page)
    assert "RECORDS VERIFICATION FAILED" in words and "Records verified" not in words
    assert "none (not verified)" in words


def test_stored_text_is_shown_as_text_never_as_markup(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    evil = '<script>alert("x")</script>'
    with RecordStore(db) as store:
        sid = start(store, plan_snapshot={"patient_ref": evil}, operator="<b>op</b>")
        store.record_shot(sid, shot(0, "done"))
        store.record_alarm(sid, "occlusion", "<img src=x onerror=alert(1)>")
        store.record_action(sid, "skip", "point 1: <i>scar</i> & more", operator="<u>x</u>")
        store.end_session(sid, "completed", {})
    with RecordStore(db, readonly=True) as store:
        page = session_report_html(store, sid)
    assert "<script>alert" not in page and "<img" not in page and "<i>scar" not in page
    assert "&lt;script&gt;" in page and "&lt;img src=x" in page and "&amp; more" in page
    assert "The session has no recorded plan with point positions" in page


def test_without_a_depth_measurement_the_map_shows_the_commanded_depth(tmp_path: Path) -> None:
    vp = face_plan()
    db = tmp_path / "r.db"
    with RecordStore(db) as store:
        sid = start(store, plan_snapshot={"plan": vp.snapshot(),
                                          "points": [asdict(p) for p in vp.points]},
                    plan_hash=vp.plan_hash, product=vp.product.model_dump(mode="json"))
        for i, p in enumerate(vp.points[:5]):
            row = shot(i, "done", point=p.point)
            assert row.measured is not None
            measured = {k: v for k, v in row.measured.items() if k != "reached_depth_mm"}
            store.record_shot(sid, ShotRow(row.index, row.point, row.state, row.reason,
                                           row.requested, row.commanded, measured,
                                           row.boot_nonce))
        store.end_session(sid, "aborted", {})
    with RecordStore(db, readonly=True) as store:
        report = build_report(store, sid)
    depth = depth_map(report)
    assert depth is not None and depth[0] == "commanded depth"
    assert report.totals.planned_points == len(vp.points) and report.totals.given_points == 5
    assert report.totals.not_done == len(vp.points) - 5
    assert "the device measured no depth in this session" in _text(render_html(report))
