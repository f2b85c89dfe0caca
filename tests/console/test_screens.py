"""The screens and controls with NiceGUI's simulated user (no browser): the real server-side
console, on the real-time simulator, with this test's own records."""

from __future__ import annotations

import pytest
from nicegui import run, ui
from nicegui.testing import User

from mesodrive.console.runtime import station
from mesodrive.controller.states import RunState
from tests.console.conftest import TOKEN
from tests.console.helpers import DONE, actions, actors, open_console, run_state, until

HOME = f"/?token={TOKEN}"


async def _open(user: User, operator: str | None = "dr-page") -> None:
    await open_console(user, HOME, operator)


async def _pick(user: User, name: str) -> None:
    select = user.find(marker="plan-select").elements.pop()
    assert isinstance(select, ui.select)
    select.set_value(name)
    await until(lambda: station().plan is not None and station().plan.path.name == name,
                what=f"{name} to open")


def _tick_all(user: User) -> None:
    for marker in ("screening", "product-confirmed", "primed"):
        for box in user.find(marker=marker).elements:
            assert isinstance(box, ui.checkbox)
            box.set_value(True)


async def _start(user: User, plan: str) -> int:
    await _pick(user, plan)
    _tick_all(user)
    user.find(marker="start").click()
    await until(lambda: station().treatment is not None, what="the run to start")
    t = station().treatment
    assert t is not None
    return t.session


async def test_no_token_gets_nothing(user: User) -> None:
    for path in ("/", "/?token=nope", "/_nicegui_ws/socket.io/?EIO=4&transport=polling"):
        r = await user.http_client.get(path)
        assert r.status_code == 403, path
        assert "access token" in r.text and "<html" not in r.text
    assert station().treatment is None


async def test_header_says_simulator_and_connection(user: User) -> None:
    await _open(user)
    await user.should_see("SIMULATOR")
    await user.should_see(marker="estop")
    await until(lambda: "connected" in next(iter(user.find(marker="link").elements)).text)
    await user.should_see("run: no run")


async def test_plan_shows_grid_product_estimate_and_limits(user: User) -> None:
    await _open(user)
    await _pick(user, "tiny.toml")
    await user.should_see("9 points")
    await user.should_see("Hair revitalising cocktail")
    await user.should_see("top row")
    grid = user.find(marker="plan-grid").elements.pop()
    assert isinstance(grid, ui.html) and grid.content.count("<circle") == 9


async def test_invalid_plan_is_explained_in_words(user: User) -> None:
    await _open(user)
    select = user.find(marker="plan-select").elements.pop()
    assert isinstance(select, ui.select)
    select.set_value("broken.toml")
    await user.should_see("above the product's hard maximum")
    assert station().plan is None


async def test_start_needs_the_whole_checklist(user: User) -> None:
    await _open(user)
    await _pick(user, "tiny.toml")
    start = user.find(marker="start").elements.pop()
    assert not start.enabled
    boxes = [b for m in ("screening", "product-confirmed") for b in user.find(marker=m).elements]
    for box in boxes:
        assert isinstance(box, ui.checkbox)
        box.set_value(True)
    assert not start.enabled  # the syringe is not primed yet
    user.find(marker="start").click()
    assert station().treatment is None
    _tick_all(user)
    assert start.enabled


async def test_full_treatment_is_recorded_with_its_checklist(user: User) -> None:
    await _open(user)
    session = await _start(user, "tiny.toml")
    await until(lambda: run_state() in DONE, 30, "the run to end")
    assert run_state() is RunState.COMPLETED
    await user.should_see("9 of 9 points")
    done = actions(session)
    assert any(a == "screening" and "web console" in r for a, r in done)
    assert any(a == "checklist" and "product confirmed" in r and "primed" in r for a, r in done)
    user.find(marker="tab-records").click()
    await user.should_see(marker="sessions")
    await until(lambda: any(r["id"] == session for r in
                            user.find(marker="sessions").elements.pop().rows))  # type: ignore[attr-defined]
    await station_records_show(user, session)
    await user.should_see("delivered")
    user.find(marker="records-verify").click()
    await user.should_see("chain intact")


async def station_records_show(user: User, session: int) -> None:
    # A row click arrives as the table's rowClick event: (event, row, index).
    user.find(marker="sessions").trigger("rowClick", [{}, {"id": session}, 0])
    await user.should_see(f"Session {session}: completed")


async def test_pause_resume_and_abort_with_a_reason(user: User) -> None:
    await _open(user)
    session = await _start(user, "slow.toml")
    await until(lambda: run_state() is RunState.RUNNING, what="running")
    user.find(marker="pause").click()
    await until(lambda: run_state() is RunState.PAUSED, 10, "paused")
    await user.should_see("run: paused")
    user.find(marker="resume").click()
    await until(lambda: run_state() is RunState.RUNNING, 10, "running again")
    user.find(marker="abort").click()
    user.find(marker="abort-reason").type("patient asked to stop")
    user.find(marker="abort-ok").click()
    await until(lambda: run_state() is RunState.ABORTED, 15, "aborted")
    done = actors(session)
    assert ("pause", "dr-page", "operator pause (web console)") in done
    assert ("resume", "dr-page", "operator resume (web console)") in done
    assert ("abort", "dr-page", "patient asked to stop (web console)") in done


async def test_controls_refuse_what_the_run_cannot_take(user: User) -> None:
    await _open(user)
    resume = user.find(marker="resume").elements.pop()
    assert not resume.enabled
    from mesodrive.console.station import ConsoleRefusal

    for call in (lambda: station().pause(), lambda: station().resume("x"),
                 lambda: station().abort("x"), lambda: station().clear("  ")):
        try:
            call()
        except ConsoleRefusal:
            continue
        raise AssertionError("expected a refusal")


async def test_fire_in_triggered_mode(user: User) -> None:
    await _open(user)
    await _start(user, "triggered.toml")
    await until(lambda: run_state() is RunState.RUNNING, what="running")
    fire = user.find(marker="fire").elements.pop()
    assert fire.visible
    board = station().board
    assert board is not None
    for n in (1, 2):
        await until(lambda: fire.enabled, 5, "Fire enabled")
        user.find(marker="fire").click()
        await until(lambda n=n: len(board.result_times()) >= n, 10, f"point {n} fired")
    user.find(marker="abort").click()
    user.find(marker="abort-reason").type("test over")
    user.find(marker="abort-ok").click()
    await until(lambda: run_state() is RunState.ABORTED, 15, "aborted")
    assert len(board.result_times()) == 2


async def test_fire_is_refused_for_an_auto_plan(user: User) -> None:
    await _open(user)
    await _start(user, "slow.toml")
    from mesodrive.console.station import ConsoleRefusal

    await user.should_not_see(marker="fire")  # hidden for an auto plan
    try:
        station().fire()
    except ConsoleRefusal as exc:
        assert "triggered plans only" in str(exc)
    else:
        raise AssertionError("Fire on an auto plan was not refused")
    station().abort("test over")
    await until(lambda: run_state() in DONE, 15, "ended")


async def test_upload_a_plan_with_its_library(user: User) -> None:
    from nicegui.elements.upload_files import SmallFileUpload

    from tests.console.conftest import PLANS

    await _open(user)
    upload = user.find(marker="upload").elements.pop()
    assert isinstance(upload, ui.upload)
    plan = (PLANS / "tiny.toml").read_text().replace("../../../examples/products.toml",
                                                      "products.toml")
    library = (PLANS.parents[2] / "examples" / "products.toml").read_bytes()
    with user:
        await upload.handle_uploads([SmallFileUpload("evil.sh", "text/plain", b"rm -rf /")])
    await user.should_see("only .toml plans")
    with user:
        await upload.handle_uploads([SmallFileUpload("mine.toml", "text/plain", plan.encode())])
    await user.should_see("library file not found")  # not uploaded yet: said in words
    with user:
        await upload.handle_uploads([SmallFileUpload("products.toml", "text/plain", library)])
    await until(lambda: station().plan is not None and station().plan.path.name == "mine.toml",
                10, "the uploaded plan to open")
    await user.should_see("9 points")


@pytest.mark.console_device("sim://?seed=4&realtime=1&faults=occlusion@3")
async def test_estop_while_an_alarm_waits_for_its_answer(user: User) -> None:
    from mesodrive.driver.vocabulary import DeviceState

    await _open(user)
    session = await _start(user, "tiny.toml")
    await until(lambda: station().policy.question is not None, 30, "the occlusion alarm")
    await user.should_see("ALARM — OCCLUSION")
    report = await run.io_bound(station().estop, "button")
    assert report.latched
    await until(lambda: run_state() is RunState.ESTOPPED, 10, "the run e-stopped")
    inj = station().inj
    assert inj is not None and inj.state is DeviceState.ESTOPPED
    await user.should_not_see("ALARM — OCCLUSION")
    await user.should_see("E-STOPPED (latched)")
    assert "estop" in {a for a, _ in actions(session)}
