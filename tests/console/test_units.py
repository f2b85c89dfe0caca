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
