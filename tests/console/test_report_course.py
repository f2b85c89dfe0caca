"""The console's treatment report (a download from the Records screen), a patient's course,
and a session too early in the course (a warning in the checklist, whose reason Start needs
and the records keep) — with NiceGUI's simulated user, real records and the simulator."""

from __future__ import annotations

from pathlib import Path

from nicegui import ui
from nicegui.testing import User

from mesodrive.console.runtime import station
from tests.console.conftest import PLANS, TOKEN
from tests.console.helpers import DONE, actions, open_console, run_state, until
from tests.reports.session import plan_file, treat

HOME = f"/?token={TOKEN}"


async def _open(user: User) -> None:
    await open_console(user, HOME)  # Start needs the page's operator


async def test_report_button_downloads_the_printable_report(user: User,
                                                            console_env: Path) -> None:
    folder = console_env.parent / "plan"
    folder.mkdir()
    session, _ = treat(console_env, plan_file(folder))  # a session in the console's records
    await _open(user)
    user.find(marker="tab-records").click()
    user.find(marker="sessions").trigger("rowClick", [{}, {"id": session}, 0])
    await user.should_see(f"Session {session}: completed")
    user.find(marker="records-report").click()
    response = await user.download.next(timeout=20)
    page = response.content.decode("utf-8")
    assert page.startswith("<!DOCTYPE html>") and f"session {session}" in page
    assert "Records verified" in page and page.count("<svg") == 2
    # the patient's course, from the session's button
    user.find(marker="records-course").click()
    await user.should_see(marker="course-table")
    table = user.find(marker="course-table").elements.pop()
    assert isinstance(table, ui.table)
    assert [r["session"] for r in table.rows] == [session]
    assert table.rows[0]["timing"] == "first of the course"
    await user.should_see("next session from")


async def test_course_for_an_unknown_patient_says_so(user: User) -> None:
    await _open(user)
    user.find(marker="tab-records").click()
    user.find(marker="course-show").click()
    await user.should_see("Give a patient reference.")
    user.find(marker="course-patient").type("NOBODY-1")
    user.find(marker="course-show").click()
    await user.should_see("No sessions for patient NOBODY-1.")


async def test_too_early_warns_and_start_needs_the_reason(user: User,
                                                        console_env: Path) -> None:
    treat(console_env, PLANS / "tiny.toml")  # the same patient and product, just now
    await _open(user)
    select = user.find(marker="plan-select").elements.pop()
    assert isinstance(select, ui.select)
    select.set_value("tiny.toml")
    await user.should_see(marker="course-warning")
    await user.should_see("Too early in the course")
    for marker in ("screening", "product-confirmed", "primed"):
        for box in user.find(marker=marker).elements:
            assert isinstance(box, ui.checkbox)
            box.set_value(True)
    user.find(marker="start").click()
    await user.should_see("a reason is needed")
    assert station().treatment is None
    user.find(marker="course-reason").type("previous session stopped by a bruise")
    user.find(marker="start").click()
    await until(lambda: station().treatment is not None, what="the run to start")
    treatment = station().treatment
    assert treatment is not None
    await until(lambda: run_state() in DONE, 30, "the run to end")
    recorded = [r for a, r in actions(treatment.session) if a == "course-interval"]
    assert len(recorded) == 1
    assert recorded[0].endswith("treated now because: previous session stopped by a bruise")

