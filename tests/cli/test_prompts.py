"""Every prompt re-asks on an answer it does not understand; the end of input is an answer."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import pytest

from mesodrive.cli import terminal
from mesodrive.cli.terminal import EndOfInput, Terminal


def scripted(*lines: str | None) -> tuple[Callable[[str], str | None], list[str]]:
    answers: Iterator[str | None] = iter(lines)
    prompts: list[str] = []

    def ask(prompt: str) -> str | None:
        prompts.append(prompt)
        return next(answers)

    return ask, prompts


def test_choose_re_asks_until_it_understands() -> None:
    ask, prompts = scripted("", "x", "resume please", "R")
    assert terminal.choose(ask, "? ", {"r": "resume", "a": "abort"}) == "resume"
    assert prompts == ["? "] + ["(please answer r/a) ? "] * 3


def test_choose_takes_enter_as_the_default_only_when_there_is_one() -> None:
    ask, _ = scripted("")
    assert terminal.choose(ask, "? ", {"y": True, "n": False}, empty=False) is False


def test_end_of_input_is_an_answer_not_a_traceback() -> None:
    for call in (lambda a: terminal.choose(a, "? ", {"r": 1}),
                 lambda a: terminal.ask_volume(a, "? ", 100.0),
                 lambda a: terminal.ask_text(a, "? ")):
        ask, _ = scripted(None)
        with pytest.raises(EndOfInput):
            call(ask)


@pytest.mark.parametrize("bad", ["abc", "-5", "0", "nan", "inf", "1e9"])
def test_a_syringe_volume_is_asked_again_until_it_is_one(bad: str) -> None:
    ask, prompts = scripted(bad, "2,5")
    assert terminal.ask_volume(ask, "? ", 10_000.0) == 2.5
    assert len(prompts) == 2


def test_a_bare_enter_is_a_full_syringe() -> None:
    ask, _ = scripted("  ")
    assert terminal.ask_volume(ask, "? ", 10_000.0) is None


def test_a_reason_must_say_something() -> None:
    ask, prompts = scripted("", "   ", "needle changed")
    assert terminal.ask_text(ask, "? ") == "needle changed"
    assert len(prompts) == 3


def test_ctrl_d_at_a_plain_prompt_is_end_of_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert Terminal().ask("? ") is None


def test_the_reader_reports_end_of_input_to_a_waiting_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    term = Terminal()
    term._reader = object()  # type: ignore[assignment]  # as if reading: ask() waits for lines
    monkeypatch.setattr("sys.stdin", io.StringIO("r\n"))
    term._asking.set()
    term._read()  # one answer, then the end of input
    assert term.ask("? ") == "r\n"
    assert term.ask("? ") is None
