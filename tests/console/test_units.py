"""The console's pieces without a browser: the rule for listening, the token gate, the recovery
policy that asks the page, the grid drawing and the `mesodrive console` command's refusals."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import httpx
import pytest

from mesodrive.cli import main
from mesodrive.console import gridmap
from mesodrive.console.access import COOKIE, TokenGate
from mesodrive.console.config import ConsoleConfig, is_loopback
from mesodrive.console.policy import AnswerRefused, ConsolePolicy
from mesodrive.controller.recovery import Answer, Decision, Problem, ProblemKind
from mesodrive.controller.treatment import TreatmentService

PLANS = Path(__file__).resolve().parent / "plans"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost", "[::1]"])
def test_loopback_needs_no_tls(host: str) -> None:
    assert is_loopback(host)
    assert ConsoleConfig(None, None, "t", host=host).problem() is None


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "clinic-pc"])
def test_any_other_address_needs_tls(host: str, tmp_path: Path) -> None:
    problem = ConsoleConfig(None, None, "t", host=host).problem()
    assert problem is not None and "without TLS" in problem
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("x")
    key.write_text("y")
    assert ConsoleConfig(None, None, "t", host=host, cert=cert, key=key).problem() is None
    half = ConsoleConfig(None, None, "t", host=host, cert=cert).problem()
    assert half is not None and "both --cert and --key" in half
    missing = ConsoleConfig(None, None, "t", host=host, cert=cert, key=tmp_path / "no").problem()
    assert missing is not None and "not a readable file" in missing


def test_command_refuses_off_loopback_without_tls(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["console", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "refusing to listen on 0.0.0.0 without TLS" in err and "Traceback" not in err


def test_address_carries_the_token() -> None:
    c = ConsoleConfig(None, None, "abc", port=9000)
    assert c.address() == "http://127.0.0.1:9000/?token=abc"


async def _ok_app(scope: dict[str, object], receive: object, send: object) -> None:
    assert callable(send)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"inside"})


def test_token_gate() -> None:
    gate = TokenGate(_ok_app, "s3cret")  # type: ignore[arg-type]

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(gate),
                                     base_url="http://test") as c:
            r = await c.get("/")
            assert r.status_code == 403 and b"inside" not in r.content
            assert "access token" in r.text
            assert (await c.get("/?token=wrong")).status_code == 403
            c.cookies.set(COOKIE, "wrong")
            assert (await c.get("/")).status_code == 403
            c.cookies.clear()
            r = await c.get("/?token=s3cret")
            assert r.status_code == 200 and r.text == "inside"
            assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=Strict" in r.headers["set-cookie"]
            assert (await c.get("/page")).status_code == 200  # the cookie now carries it

    asyncio.run(go())


def test_policy_offers_exactly_what_the_engine_can_do() -> None:
    policy = ConsolePolicy()
    answers: list[Answer] = []
    problem = Problem(ProblemKind.OCCLUSION, 4, "OCCLUSION (detail 0)")
    worker = threading.Thread(target=lambda: answers.append(policy(problem)))
    worker.start()
    while policy.question is None:
        threading.Event().wait(0.01)
    q = policy.question
    assert q.choices == (Decision.RETRY, Decision.SKIP, Decision.ABORT) and not q.refill
    with pytest.raises(AnswerRefused, match="needs a reason"):
        policy.answer(q.number, Decision.SKIP, "  ")
    with pytest.raises(AnswerRefused, match="already answered"):
        policy.answer(q.number + 1, Decision.RETRY, "")
    policy.answer(q.number, Decision.SKIP, "needle changed, point area bruised")
    worker.join(2)
    assert answers and answers[0].decision is Decision.SKIP
    assert policy.question is None


def test_policy_without_a_point_cannot_skip_and_release_aborts() -> None:
    policy = ConsolePolicy()
    answers: list[Answer] = []
    worker = threading.Thread(target=lambda: answers.append(
        policy(Problem(ProblemKind.LINK_LOST, None, "link lost"))))
    worker.start()
    while policy.question is None:
        threading.Event().wait(0.01)
    assert policy.question.choices == (Decision.RETRY, Decision.ABORT)
    policy.release("emergency stop")
    worker.join(2)
    assert answers[0].decision is Decision.ABORT


def test_grid_draws_every_point_with_its_state() -> None:
    plan = TreatmentService.load_plan(PLANS / "tiny.toml")
    points = plan.checked.points
    svg = gridmap.render(points, area=plan.plan.area, zones=plan.plan.zones,
                         statuses={1: "delivered", 2: "next"})
    assert svg.count("<circle") == len(points) == 9
    assert 'data-point="1" data-status="delivered"' in svg
    assert 'data-point="2" data-status="next"' in svg
    assert svg.count('data-status="pending"') == 7
    by_zone = gridmap.render(points, area=plan.plan.area, zones=plan.plan.zones)
    assert 'data-status="top row"' in by_zone


def test_ended_run_map_comes_from_the_records() -> None:
    from mesodrive.console.board import RunBoard
    from mesodrive.records import PointOutcome

    points = TreatmentService.load_plan(PLANS / "tiny.toml").checked.points
    board = RunBoard(points, 1)

    def o(point: int, outcome: str, shots: tuple[int, ...]) -> PointOutcome:
        return PointOutcome(point, outcome, outcome, shots, 1.5, None, 20.0, 0.0, None)

    board.reconcile([o(1, "delivered", (0,)), o(2, "cut short", (1,)), o(3, "not done", (2,)),
                     o(4, "skipped", ()), o(5, "uncertain", (3,)), o(6, "not done", ())])
    s = board.snapshot().statuses
    assert [s[p] for p in range(1, 8)] == ["delivered", "cut short", "failed", "skipped",
                                           "uncertain", "pending", "pending"]


def test_a_failed_shot_shows_its_point_failed_until_a_shot_settles_it() -> None:
    from mesodrive.console.board import RunBoard
    from mesodrive.controller.engine import PointFinished, Progress
    from mesodrive.controller.run_result import RunResult
    from mesodrive.controller.shot_failures import ShotFailed
    from mesodrive.controller.states import RunState
    from mesodrive.driver.shots import Commanded, Shot, ShotOutcome, ShotRequest, ShotState

    points = TreatmentService.load_plan(PLANS / "tiny.toml").checked.points
    board = RunBoard(points, 1)
    result = RunResult(RunState.RUNNING)
    result.pending = [p.point for p in points]
    board.on_event(Progress(0, 9, 0, 0.0, 90.0, None, None), result)
    assert board.snapshot().statuses[1] == "next"
    board.on_failure(ShotFailed(1, 0, "rejected", "TOO_LATE"))
    snap = board.snapshot()
    assert snap.statuses[1] == "failed" and snap.next_point == 1
    assert "TOO_LATE" in snap.log[-1].text and snap.log[-1].level == "warning"
    board.on_event(Progress(0, 9, 0, 0.0, 90.0, None, None), result)  # still failed
    assert board.snapshot().statuses[1] == "failed"
    p1 = points[0]
    shot = Shot(5, 1, 1, ShotRequest(1, p1.depth_mm, p1.volume_ul, 40.0, 80.0),
                Commanded(p1.depth_mm, p1.volume_ul, 40.0, 80.0, 0.0, None, "identity"),
                ShotState.DONE, "", ShotOutcome(p1.depth_mm - 0.05, p1.volume_ul, 0.0, 0.1,
                                                180.0, 0))
    result.delivered[1] = p1.volume_ul
    board.on_event(PointFinished(1, shot), result)
    snap = board.snapshot()
    assert snap.statuses[1] == "delivered" and snap.statuses[2] == "next"
    assert snap.last_shot is not None and snap.last_shot.peak_pressure_kpa == 180.0
    assert snap.last_shot.target_depth_mm == p1.depth_mm
    assert snap.last_shot.reached_depth_mm == p1.depth_mm - 0.05


def test_a_point_skipped_while_paused_is_not_next() -> None:
    from mesodrive.console.board import RunBoard
    from mesodrive.controller.engine import Progress
    from mesodrive.controller.run_result import RunResult
    from mesodrive.controller.states import RunState

    points = TreatmentService.load_plan(PLANS / "tiny.toml").checked.points
    board = RunBoard(points, 1)
    result = RunResult(RunState.PAUSED)
    result.pending = [p.point for p in points]  # refreshed only at state changes
    result.skipped[1] = "bruise"
    board.on_event(Progress(0, 9, 1, 0.0, 90.0, None, None), result)
    s = board.snapshot().statuses
    assert s[1] == "skipped" and s[2] == "next"


def test_pressure_bar_marks_warning_and_limit() -> None:
    from mesodrive.console import pressure

    assert [pressure.level(v) for v in (None, 100.0, pressure.WARNING_KPA, pressure.LIMIT_KPA)] \
        == ["unknown", "normal", "warning", "limit"]
    svg = pressure.render(500.0, peak_kpa=520.0)
    assert 'data-mark="warning"' in svg and 'data-mark="limit"' in svg
    assert 'data-level="warning"' in svg and 'data-peak="520"' in svg
    assert "limit 600 kPa" in svg
    assert 'data-level' not in pressure.render(None)  # no reading: no bar, only the marks
    huge = pressure.render(1e6)
    assert 'width="400.0"' in huge  # clamped to the scale
