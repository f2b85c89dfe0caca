"""Who did what, from which page, and the unfinished sessions (NiceGUI's simulated users, the
real server-side console, the real-time simulator):

- the operator's name is asked on the page, before Start, and every action from a page is
  recorded with that page's name (two pages, two names), never a server-wide one;
- E-STOP, Pause and Abort never wait for a name (recorded with none, saying so);
- Skip (while paused) needs a reason; an e-stop outside a run is on the record; clearing it
  from the header is recorded as the page's operator's;
- a session a killed `mesodrive run` left open is offered on the Plan screen and resumed from
  the page through the service's resume path: no point injected twice (the device's truth log
  against the records).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mesosim.transports.shotlog import read_shot_log
from nicegui import events, ui
from nicegui.testing import User

from mesodrive.console.estop import emergency_stop
from mesodrive.console.runtime import station
from mesodrive.controller.states import RunState
from mesodrive.driver.vocabulary import DeviceState
from mesodrive.records import RecordStore
from tests.console.conftest import PLANS, TOKEN
from tests.console.helpers import DONE, actors, open_console, run_state, until

HOME = f"/?token={TOKEN}"


async def _open(user: User, operator: str | None) -> None:
    await open_console(user, HOME, operator)


async def _start(user: User, plan: str) -> int:
    select = user.find(marker="plan-select").elements.pop()
    assert isinstance(select, ui.select)
    select.set_value(plan)
    await until(lambda: station().plan is not None and station().plan.path.name == plan,
                what=f"{plan} to open")
    for marker in ("screening", "product-confirmed", "primed"):
        for box in user.find(marker=marker).elements:
            assert isinstance(box, ui.checkbox)
            box.set_value(True)
    user.find(marker="start").click()
    await until(lambda: station().treatment is not None, what="the run to start")
    t = station().treatment
    assert t is not None
    return t.session


async def test_start_asks_for_the_operators_name_first(user: User) -> None:
    await _open(user, None)
    await user.should_see(marker="operator-hint")
    select = user.find(marker="plan-select").elements.pop()
    assert isinstance(select, ui.select)
    select.set_value("tiny.toml")
    await until(lambda: station().plan is not None, what="the plan")
    for marker in ("screening", "product-confirmed", "primed"):
        for box in user.find(marker=marker).elements:
            assert isinstance(box, ui.checkbox)
            box.set_value(True)
    user.find(marker="start").click()
    await user.should_see("enter your name")
    assert station().treatment is None
    user.find(marker="operator").type("dr-late")
    user.find(marker="start").click()
    await until(lambda: station().treatment is not None, what="the run to start")
    t = station().treatment
    assert t is not None
    station().abort("test over")
    await until(lambda: run_state() in DONE, 15, "ended")
    detail = station().service.store.session(t.session)
    assert detail.operator == "dr-late"
    screening = next(a for a in detail.actions if a.action == "screening")
    assert screening.operator == "dr-late" and "ticked in the web console" in screening.reason


async def test_two_pages_two_operators(create_user: Callable[[], User]) -> None:
    ann, bob = create_user(), create_user()
    await _open(ann, "dr-ann")
    await _open(bob, "dr-bob")
    session = await _start(ann, "slow.toml")
    await until(lambda: run_state() is RunState.RUNNING, what="running")
    await bob.should_see("run: running")
    bob.find(marker="pause").click()
    await until(lambda: run_state() is RunState.PAUSED, 10, "paused")
    board = station().board
    assert board is not None
    nxt = board.snapshot().next_point
    assert nxt is not None
    skip = ann.find(marker="skip").elements.pop()
    await until(lambda: skip.enabled, 5, "Skip enabled")
    ann.find(marker="skip").click()
    ann.find(marker="skip-ok").click()  # no reason: refused, nothing recorded
    await ann.should_see("a reason is needed")
    ann.find(marker="skip-reason").type("bruise at that point")
    ann.find(marker="skip-ok").click()
    await until(lambda: board.snapshot().statuses.get(nxt) == "skipped", 10, "skipped on the map")
    resume = bob.find(marker="resume").elements.pop()
    await until(lambda: resume.enabled, 5, "Resume enabled")
    bob.find(marker="resume").click()
    await until(lambda: run_state() is RunState.RUNNING, 10, "running again")
    ann.find(marker="abort").click()
    ann.find(marker="abort-reason").type("patient asked to stop")
    ann.find(marker="abort-ok").click()
    await until(lambda: run_state() is RunState.ABORTED, 15, "aborted")
    done = actors(session)
    assert ("pause", "dr-bob", "operator pause (web console)") in done
    assert ("skip", "dr-ann", f"point {nxt}: bruise at that point (web console)") in done
    assert ("resume", "dr-bob", "operator resume (web console)") in done
    assert ("abort", "dr-ann", "patient asked to stop (web console)") in done
    assert {op for _, op, _ in done} == {"dr-ann", "dr-bob"}  # never the server's name
    assert station().service.store.session(session).operator == "dr-ann"


async def test_stopping_needs_no_name_and_says_so(user: User) -> None:
    await _open(user, "dr-starter")
    session = await _start(user, "slow.toml")
    await until(lambda: run_state() is RunState.RUNNING, what="running")
    user.find(marker="operator").clear()  # whoever stands at the page now gave no name
    user.find(marker="pause").click()
    await until(lambda: run_state() is RunState.PAUSED, 10, "paused")
    resume = user.find(marker="resume").elements.pop()
    await until(lambda: resume.enabled, 5, "Resume enabled")
    user.find(marker="resume").click()  # continuing needs a name
    await user.should_see("enter your name")
    assert run_state() is RunState.PAUSED
    user.find(marker="abort").click()
    user.find(marker="abort-ok").click()
    await until(lambda: run_state() is RunState.ABORTED, 15, "aborted")
    pause = next(a for a in actors(session) if a[0] == "pause")
    abort = next(a for a in actors(session) if a[0] == "abort")
    for _, operator, reason in (pause, abort):
        assert operator is None and "no operator name was entered" in reason


async def test_estop_outside_a_run_and_its_clear_are_the_pages(user: User) -> None:
    await _open(user, "dr-estop")
    inj = station().inj
    assert inj is not None
    button = user.find(marker="estop").elements.pop()
    with user:  # the button's event, as the browser sends it (the user fixture runs no JS)
        await emergency_stop(events.GenericEventArguments(
            sender=button, client=button.client, args={"t": time.time() * 1000, "via": "button"}))
    await until(lambda: inj.state is DeviceState.ESTOPPED, 5, "latched")
    report = station().last_estop
    assert report is not None and report.latched and report.session is not None
    stop = station().service.store.session(report.session)
    assert stop.mode == "device" and stop.summary.status == "e-stopped"
    [action] = stop.actions
    assert (action.action, action.operator) == ("estop", "dr-estop")
    assert "web console, E-STOP button" in action.reason
    await user.should_see("E-STOPPED (latched)")
    user.find(marker="clear").click()  # the header's dialog: no name passed, the page's used
    user.find(marker="clear-reason").type("nobody at the device; checked")
    user.find(marker="clear-ok").click()
    await until(lambda: inj.state is DeviceState.IDLE, 10, "cleared")
    cleared = station().service.store.sessions()[-1]
    clear = station().service.store.session(cleared.id).actions[0]
    assert (clear.action, clear.operator) == ("clear-estop", "dr-estop")


# ----- resume after a crash ------------------------------------------------------------------
def _shots_started(log: Path) -> int:
    return len(read_shot_log(log))


@pytest.fixture
def crashed(console_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """Session 1 of this test's records, left open by a `mesodrive run` killed mid-run on the
    built-in simulator (its journal beside the records, as the console's own simulator has)."""
    from mesodrive.console.config import ENV

    db = console_env
    monkeypatch.setenv(ENV["device"], "")  # the console's built-in simulator, beside the records
    truth = db.parent / "simulator-shots.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "NICEGUI_"))}
    run = subprocess.Popen([sys.executable, "-m", "mesodrive", "run", str(PLANS / "tiny.toml"),
                            "--db", str(db), "--yes", "--operator", "dr-crashed"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           stdin=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 60
        while _shots_started(truth) < 3:
            assert run.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no shots started"
            time.sleep(0.01)
        run.send_signal(signal.SIGKILL)  # host and built-in device die together
    finally:
        run.wait(10)
    with RecordStore(db, readonly=True) as store:
        assert store.sessions()[0].status == "open"
    yield 1


async def test_resume_a_crashed_session_from_the_plan_screen(crashed: int, user: User) -> None:
    await _open(user, "dr-resume")
    await user.should_see(marker=f"resume-session-{crashed}")
    user.find(marker=f"resume-session-{crashed}").click()
    await until(lambda: station().treatment is not None, 20, "the session to resume")
    t = station().treatment
    assert t is not None and t.session == crashed
    await until(lambda: run_state() in DONE, 40, "the resumed run to end")
    assert run_state() is RunState.COMPLETED
    await user.should_not_see(marker=f"resume-session-{crashed}")
    done = actors(crashed)
    resumed = next(a for a in done if a[0] == "resume-after-crash")
    assert resumed[1] == "dr-resume" and "settled" in resumed[2]
    # The device's truth log (both boots, same file) against the records: each point once.
    db = station().service.db
    assert db is not None
    truth = read_shot_log(Path(db).parent / "simulator-shots.jsonl")
    rows = station().service.store.latest_shots(crashed)
    by_key = {(int(r.commanded["session"]), i): r for i, r in rows.items()}  # type: ignore[arg-type]
    injected = [by_key[(e["session"], e["index"])].point for e in truth]
    assert len(injected) == len(set(injected)), f"a point injected twice: {sorted(injected)}"
    assert set(injected) == set(range(1, 10))
