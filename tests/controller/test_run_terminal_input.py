"""The run's terminal reader (issue 8, defect 6): the e-stop path cannot be blocked or killed by
the trigger path, a slow or failing trigger, or a printing error."""

from __future__ import annotations

import threading

import pytest

from mesodrive.cli import run_cmd
from mesodrive.driver.errors import CommandRefused, DeviceTimeout


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> run_cmd._Terminal:
    monkeypatch.setattr(run_cmd, "_interactive", lambda: False)  # no real stdin reader
    term = run_cmd._Terminal()
    threading.Thread(target=term._fire, daemon=True).start()
    return term


def test_e_behind_queued_enters_stops_at_once(terminal: run_cmd._Terminal) -> None:
    release = threading.Event()
    fired: list[int] = []
    stopped = threading.Event()

    def slow_trigger() -> None:  # a trigger whose reply is late (up to 3 s each)
        fired.append(1)
        release.wait(10)

    terminal.on_enter = slow_trigger
    terminal.on_estop = stopped.set
    for _ in range(5):
        terminal.on_line("\n")
    terminal.on_line("e\n")
    try:
        assert stopped.is_set()  # at once, on the reader's own thread: not behind the triggers
        assert len(fired) <= 1  # the first trigger is still waiting for its reply
    finally:
        release.set()


@pytest.mark.parametrize("error", [RecursionError("rich"), DeviceTimeout("late"),
                                   CommandRefused("soft_trigger", "ILLEGAL_STATE")])
def test_a_failing_trigger_never_kills_the_estop_path(terminal: run_cmd._Terminal,
                                                      capsys: pytest.CaptureFixture[str],
                                                      error: Exception) -> None:
    done = threading.Event()
    stopped = threading.Event()

    def trigger() -> None:
        done.set()
        raise error

    terminal.on_enter = trigger
    terminal.on_estop = stopped.set
    terminal.on_line("\n")
    assert done.wait(5)
    terminal.on_line("e\n")
    assert stopped.is_set()
    out = capsys.readouterr().out
    if isinstance(error, DeviceTimeout):
        assert "may have fired" in out and "not fired" not in out  # a late reply is no proof
    if isinstance(error, CommandRefused):
        assert "not fired" in out


def test_the_reader_survives_an_estop_handler_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    calls: list[str] = []

    def bad_estop() -> None:
        calls.append("estop")
        raise RecursionError("maximum recursion depth exceeded while printing")

    term = run_cmd._Terminal()
    term.on_estop = bad_estop
    monkeypatch.setattr("sys.stdin", io.StringIO("e\ne\n"))
    term._read()  # returns at end of input instead of dying at the first error
    assert calls == ["estop", "estop"]
