"""The console in a real browser (Selenium + Debian's chromium, NiceGUI's `screen` fixture),
on the real-time simulator: a whole treatment, pause and resume, an e-stop during a shot, an
occlusion alarm answered with a skip, a closed tab that pauses its run, and no token.

Figures (printed; run with -s to see them): e-stop from the browser's own event time to the
device confirming it latched, and a point's result reaching the server → its colour on the
page. Both are measured from timestamps, not from Selenium's round trip (CONSOLE-TESTING.md).
`MESODRIVE_UPDATE_SCREENSHOT=1` retakes the README's `docs/console-run.png` (the occlusion
alarm on the run screen).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from pathlib import Path

import pytest
from nicegui.testing import Screen
from selenium.webdriver.common.keys import Keys

from mesodrive.console.runtime import station
from mesodrive.controller.states import RunState
from mesodrive.driver.vocabulary import DeviceState
from tests.console.browser import (
    HOME,
    OBSERVE_MAP,
    dom,
    field,
    js,
    marked,
    open_console,
    start,
    statuses,
)
from tests.console.helpers import DONE, actions, run_state, wait

DOCS = Path(__file__).resolve().parents[2] / "docs"


def figure(name: str, **values: object) -> None:
    print(json.dumps({"figure": name, **values}))


def test_full_treatment_to_completion(screen: Screen) -> None:
    open_console(screen)
    session = start(screen, "tiny.toml")
    js(screen, OBSERVE_MAP)
    wait(lambda: run_state() in DONE, 40, "the run to end")
    assert run_state() is RunState.COMPLETED
    screen.should_contain("9 of 9 points")
    wait(lambda: set(statuses(screen).values()) == {"delivered"}, 5, "an all-green map")
    seen = js(screen, "return window.__seen")
    board = station().board
    assert board is not None
    lags = [seen[str(p)] / 1000 - t for p, t in board.result_times().items() if str(p) in seen]
    assert lags, "no point was seen changing on the page"
    figure("result_to_page_ms", points=len(lags),
           median=round(statistics.median(lags) * 1000, 1), max=round(max(lags) * 1000, 1))
    assert ("checklist" in {a for a, _ in actions(session)})
    js(screen, "window.scrollTo(0, 0)")  # Start was below the fold; the header is fixed
    dom(screen, "tab-records").click()
    screen.should_contain(f"{session}")


def test_pause_and_resume(screen: Screen) -> None:
    open_console(screen)
    session = start(screen, "slow.toml")
    wait(lambda: run_state() is RunState.RUNNING, 15, "running")
    dom(screen, "pause").click()
    wait(lambda: run_state() is RunState.PAUSED, 10, "paused at a shot boundary")
    screen.should_contain("run: paused")
    assert station().inj is not None and station().inj.state is not DeviceState.FIRING
    dom(screen, "resume").click()
    wait(lambda: run_state() is RunState.RUNNING, 10, "running again")
    wait(lambda: run_state() in DONE, 40, "the run to end")
    assert run_state() is RunState.COMPLETED
    done = actions(session)
    assert ("pause", "operator pause (web console)") in done
    assert ("resume", "operator resume (web console)") in done


def test_estop_key_during_a_shot_with_a_dialog_open(screen: Screen) -> None:
    open_console(screen)
    session = start(screen, "slow.toml")
    wait(lambda: run_state() is RunState.RUNNING, 15, "running")
    dom(screen, "abort").click()  # a dialog is open and its text field has the focus
    screen.wait(0.5)
    reason = field(screen, "abort-reason")
    reason.click()
    reason.send_keys("typing a reason")
    inj = station().inj
    assert inj is not None
    wait(lambda: inj.state is DeviceState.FIRING, 10, "a shot in progress")
    reason.send_keys(Keys.ESCAPE)
    wait(lambda: station().last_estop is not None, 5, "the e-stop")
    report = station().last_estop
    assert report is not None and report.latched and report.via == "key"
    assert inj.state is DeviceState.ESTOPPED
    wait(lambda: run_state() is RunState.ESTOPPED, 10, "the run e-stopped")
    screen.should_contain("E-STOPPED (latched)")
    assert "estop" in {a for a, _ in actions(session)}
    assert station().service.store.session(session).status == "e-stopped"
    figure("estop_key_to_latched_ms", browser_event_to_latched=round(
        (report.from_browser_s or 0) * 1000, 1), device_call=round((report.device_s or 0) * 1000, 1))
    dom(screen, "abort-cancel").click()  # the dialog that was open; the run is over anyway
    screen.wait(0.5)  # the dialog's closing transition
    # Clearing needs a reason, and is recorded.
    dom(screen, "clear").click()
    screen.wait(0.5)  # its opening transition
    dom(screen, "clear-ok").click()
    screen.should_contain("a reason is needed")
    assert inj.state is DeviceState.ESTOPPED
    field(screen, "clear-reason").send_keys(
        "patient checked, needle retracted, no harm")
    dom(screen, "clear-ok").click()
    wait(lambda: inj.state is DeviceState.IDLE, 10, "the device cleared")
    cleared = station().service.store.sessions()[-1]
    assert cleared.mode == "device"


def test_estop_button_click_latency(screen: Screen) -> None:
    """Clicked with a JS click() (the browser's own event time is sent with it); the device
    latched and cleared in between, five times."""
    open_console(screen)
    inj = station().inj
    assert inj is not None
    browser, device = [], []
    for i in range(5):
        station().last_estop = None
        js(screen, "document.querySelector('.estop').click()")
        wait(lambda: station().last_estop is not None, 5, "the e-stop")
        r = station().last_estop
        assert r is not None and r.latched and r.via == "button"
        assert inj.state is DeviceState.ESTOPPED
        browser.append((r.from_browser_s or 0) * 1000)
        device.append((r.device_s or 0) * 1000)
        station().clear(f"latency trial {i}", operator="dr-browser")
    figure("estop_click_to_latched_ms", trials=5, median=round(statistics.median(browser), 1),
           max=round(max(browser), 1), device_call_median=round(statistics.median(device), 1))


@pytest.mark.console_device("sim://?seed=4&realtime=1&faults=occlusion@3")
def test_occlusion_alarm_acknowledged_with_a_skip(screen: Screen) -> None:
    open_console(screen)
    session = start(screen, "tiny.toml")
    wait(lambda: station().policy.question is not None, 30, "the occlusion alarm")
    screen.should_contain("ALARM — OCCLUSION")
    labels = sorted(b.text for b in dom(screen, "alarm").find_elements("css selector", "button"))
    assert labels == sorted(["FIXED — RETRY", "SKIP THE POINT", "ABORT THE TREATMENT"]) or \
        labels == sorted(["Fixed — retry", "Skip the point", "Abort the treatment"])
    question = station().policy.question
    assert question is not None and question.problem.point is not None
    point = question.problem.point
    screen.wait(0.6)  # let the map show the alarm's point
    if os.environ.get("MESODRIVE_UPDATE_SCREENSHOT"):  # the README's picture, on request
        screen.selenium.save_screenshot(str(DOCS / "console-run.png"))
    dom(screen, "alarm-skip").click()
    screen.should_contain("skipping a point needs a reason")
    assert station().policy.question is not None  # still latched
    field(screen, "alarm-reason").send_keys(
        "needle replaced; skin at that point irritated")
    dom(screen, "alarm-skip").click()
    wait(lambda: run_state() in DONE, 40, "the run to end")
    assert run_state() is RunState.COMPLETED
    # The occlusion struck a shot that had moved: that point is cut short (a puncture, never
    # repeated), so "skip" leaves it as it is and the run goes on (issue 10: the right point).
    wait(lambda: statuses(screen).get(point) in ("skipped", "cut short"), 5,
         "the struck point on the map")
    done = actions(session)
    said = f"point {point}: needle replaced; skin at that point irritated (web console)"
    assert ("skip", said) in done
    skip = [a for a in station().service.store.session(session).actions if a.action == "skip"]
    assert [a.operator for a in skip] == ["dr-browser"]
    detail = station().service.store.session(session)
    assert any(a.code == "occlusion" for a in detail.alarms)


def test_closed_tab_pauses_its_run_and_a_new_page_shows_it(screen: Screen) -> None:
    open_console(screen)
    session = start(screen, "slow.toml")
    wait(lambda: run_state() is RunState.RUNNING, 15, "running")
    driver = screen.selenium
    first = driver.current_window_handle
    driver.switch_to.new_window("tab")
    second = driver.current_window_handle
    driver.switch_to.window(first)
    driver.close()  # the tab that started the run
    driver.switch_to.window(second)
    wait(lambda: run_state() is RunState.PAUSED, 10, "paused after the tab closed")
    assert ("console-disconnected" in {a for a, _ in actions(session)})
    driver.get(screen.url + HOME)
    screen.should_contain("run: paused")
    wait(lambda: marked("resume"), 5, "the page")
    dom(screen, "resume").click()  # this page has no operator name yet: refused
    screen.should_contain("enter your name")
    assert run_state() is RunState.PAUSED
    field(screen, "operator").send_keys("dr-second-page")
    dom(screen, "resume").click()
    wait(lambda: run_state() is RunState.RUNNING, 10, "resumed from the new page")
    wait(lambda: run_state() in DONE, 40, "the run to end")
    assert run_state() is RunState.COMPLETED
    resume = [a for a in station().service.store.session(session).actions
              if a.action == "resume"]
    assert [a.operator for a in resume] == ["dr-second-page"]


def test_no_token_gets_nothing(screen: Screen) -> None:
    screen.allowed_js_errors.append("403")
    screen.start_server()
    deadline = time.monotonic() + 10
    while True:
        try:
            screen.selenium.get(screen.url + "/")
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    body = screen.selenium.find_element("tag name", "body").text
    assert "403" in body and "access token" in body
    assert "E-STOP" not in screen.selenium.page_source
    assert station().treatment is None


def test_chromium_is_debians() -> None:
    """Not a browser test: says which browser the others used (or that none was found)."""
    found = shutil.which("chromium") or shutil.which("google-chrome")
    if found is None:
        pytest.skip("no Chromium: the browser tests were skipped")
    assert Path(found).exists()


def test_escape_in_the_skip_dialog_stops_and_names_the_pages_operator(screen: Screen) -> None:
    """The operator's name typed in the browser, the Skip dialog open while paused with its
    reason field focused: Escape still e-stops, recorded as that page's operator's."""
    open_console(screen, "dr-escape")
    session = start(screen, "slow.toml")
    wait(lambda: run_state() is RunState.RUNNING, 15, "running")
    dom(screen, "pause").click()
    wait(lambda: run_state() is RunState.PAUSED, 10, "paused")
    wait(lambda: dom(screen, "skip").is_enabled(), 5, "Skip enabled")
    dom(screen, "skip").click()
    screen.wait(0.5)  # its opening transition
    reason = field(screen, "skip-reason")
    reason.click()
    reason.send_keys("thinking about it")
    reason.send_keys(Keys.ESCAPE)
    wait(lambda: run_state() is RunState.ESTOPPED, 10, "the run e-stopped")
    # The device is stopped first and the action recorded after (an e-stop never waits for a
    # disk): the run can be seen e-stopped a moment before the console's call has returned.
    wait(lambda: "estop" in {a for a, _ in actions(session)}, 5, "the e-stop on record")
    estop = [a for a in station().service.store.session(session).actions if a.action == "estop"]
    assert len(estop) == 1 and estop[0].operator == "dr-escape"
    assert "Escape key" in estop[0].reason
    assert station().service.store.session(session).operator == "dr-escape"
