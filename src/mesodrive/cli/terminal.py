"""The operator's terminal: the one reader of stdin during a run, and the prompts.

Every prompt re-asks on an answer it does not understand; the end of input (Ctrl-D, a closed
terminal) is a clear answer — abort, not confirmed — never a traceback (`EndOfInput`).
"""

from __future__ import annotations

import logging
import math
import queue
import sys
import threading
from collections.abc import Callable, Mapping
from typing import TypeVar

from rich.progress import Progress

from mesodrive.driver.errors import CommandRefused, DriverError

log = logging.getLogger(__name__)
T = TypeVar("T")


class EndOfInput(Exception):
    """Nobody can answer any more (Ctrl-D, the terminal closed)."""


def interactive() -> bool:
    return sys.stdin.isatty()


def say(text: str) -> None:
    """A plain line from any thread: never rich, never raising."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 - a broken terminal must not stop the run or the e-stop
        log.warning("could not print to the terminal: %s", text)


class Terminal:
    """The operator's terminal during a run: the one reader of stdin. It answers prompts and,
    in triggered mode, turns a bare Enter into a soft trigger (the console's fire button).

    The e-stop path (`e` + Enter) is independent of everything else the reader does: triggers
    are fired by their own worker thread (a slow reply never delays an `e` typed behind it),
    the reader survives any error of the handlers, and nothing it prints goes through rich
    (whose live display is not safe from this thread).

    The live progress display is suspended while a prompt waits: rich's live view proxies
    stdout and would redraw over (and mangle) it.
    """

    def __init__(self) -> None:
        self.bar: Progress | None = None
        self.on_enter: Callable[[], None] | None = None  # triggered mode: fire the next shot
        self.on_estop: Callable[[], None] | None = None  # "e" + Enter: emergency stop
        self._answers: queue.Queue[str | None] = queue.Queue()  # None: end of input
        self._triggers: queue.Queue[None] = queue.Queue()
        self._asking = threading.Event()
        self._eof = threading.Event()
        self._reader: threading.Thread | None = None

    def start_reading(self) -> None:
        if self._reader is None and interactive():
            self._reader = threading.Thread(target=self._read, name="mesodrive-tty", daemon=True)
            self._reader.start()
            threading.Thread(target=self._fire, name="mesodrive-trigger", daemon=True).start()

    def _read(self) -> None:
        try:
            for line in sys.stdin:
                try:
                    self.on_line(line)
                except Exception:  # the reader is the e-stop path: it must outlive any handler bug
                    log.exception("terminal input handler failed on %r", line)
        finally:
            self._eof.set()
            self._answers.put(None)

    def on_line(self, line: str) -> None:
        if line.strip().lower() in ("e", "estop") and self.on_estop is not None:
            self.on_estop()
        elif self._asking.is_set():
            self._answers.put(line)
        elif self.on_enter is not None and not line.strip():
            self._triggers.put(None)

    def _fire(self) -> None:
        while True:
            self._triggers.get()
            if self.on_enter is None:
                continue
            try:
                self.on_enter()
            except CommandRefused as exc:
                say(f"not fired: the device refused the trigger ({exc.code})")
            except DriverError as exc:  # no reply in time: it may well have fired
                say(f"no answer to the trigger yet ({exc}); it may have fired — watch the progress")
            except Exception:
                log.exception("trigger failed")

    def ask(self, prompt: str) -> str | None:
        """One line of answer; None at the end of input."""
        if self._reader is None:  # nothing reads stdin yet: a plain prompt
            try:
                return input(prompt)
            except EOFError:
                print()
                return None
        if self.bar is not None:
            self.bar.stop()
        self._asking.set()
        try:
            print(prompt, end="", flush=True)
            while True:
                if self._eof.is_set() and self._answers.empty():
                    print()
                    return None
                try:
                    return self._answers.get(timeout=0.1)  # a timeout keeps Ctrl-C responsive
                except queue.Empty:
                    continue
        finally:
            self._asking.clear()
            if self.bar is not None:
                self.bar.start()


def answer(ask: Callable[[str], str | None], prompt: str) -> str:
    """One stripped line; EndOfInput at the end of input."""
    text = ask(prompt)
    if text is None:
        raise EndOfInput
    return text.strip()


def choose(ask: Callable[[str], str | None], prompt: str, options: Mapping[str, T],
           *, empty: T | None = None) -> T:
    """Ask until the answer is one of `options` (case-insensitive; `empty` for a bare Enter,
    if given). EndOfInput at the end of input.

    A re-ask says what is expected in the prompt itself, printed once the terminal listens:
    an answer typed after it is never lost between two prompts."""
    hint = f"(please answer {'/'.join(options)}) "
    ask_now = prompt
    while True:
        text = answer(ask, ask_now).lower()
        if not text and empty is not None:
            return empty
        if text in options:
            return options[text]
        ask_now = hint + prompt


def ask_volume(ask: Callable[[str], str | None], prompt: str, max_ul: float) -> float | None:
    """A syringe volume in µL, 0 < v ≤ max_ul; None (a bare Enter) means a full syringe."""
    ask_now = prompt
    while True:
        text = answer(ask, ask_now)
        if not text:
            return None
        try:
            value = float(text.replace(",", "."))
        except ValueError:
            value = math.nan
        if math.isfinite(value) and 0 < value <= max_ul:
            return value
        ask_now = f"(please give a volume in µL, more than 0 and at most {max_ul:g}) {prompt}"


def ask_text(ask: Callable[[str], str | None], prompt: str) -> str:
    """A non-empty line (a reason). EndOfInput at the end of input."""
    ask_now = prompt
    while True:
        text = answer(ask, ask_now)
        if text:
            return text
        ask_now = f"(please give a reason: it is recorded) {prompt}"
