"""A treatment running in the terminal: the progress bar, Ctrl-C as a pause at the next shot
boundary (a second one leaves the session open), Ctrl-\\ or e + Enter as the emergency stop,
Enter as the trigger, and the summary with its exit code at the end.

The run itself is in a worker thread (the treatment's engine); the main thread only shows
progress and turns signals into requests, so a slow terminal never delays a shot.
"""

from __future__ import annotations

import signal
import sys
import threading

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.text import Text

from mesodrive.cli import terminal
from mesodrive.cli.exit_codes import ExitCode
from mesodrive.cli.terminal import EndOfInput, Terminal, choose
from mesodrive.controller.engine import AlarmRaised, PointFinished, RunEvent
from mesodrive.controller.engine import Progress as RunProgress
from mesodrive.controller.states import RunState
from mesodrive.controller.treatment import Treatment
from mesodrive.driver.errors import DriverError

DISPLAY = Terminal()


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def time_left(eta_s: float | None) -> str:
    """The run's remaining time as the engine reckons it; held (no number) while not running."""
    if eta_s is None:
        return "left: —"
    minutes, seconds = divmod(round(eta_s), 60)
    return f"left {minutes}:{seconds:02d}"


def execute(treatment: Treatment, console: Console, place: str) -> int:
    """Run in a worker thread; the main thread shows progress and turns Ctrl-C into a pause."""
    # Time left comes from the engine (points still open × the plan's period), not from rich's
    # rate estimate, which a pause or an alarm throws off; the next point's zone and depth are
    # the plan's.
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[where]}"), TextColumn("{task.fields[volume]}"),
                   TextColumn("{task.fields[left]}"), TextColumn("{task.fields[alarm]}"),
                   console=console, transient=False)
    task = bar.add_task("points", total=len(treatment.plan.points), volume="", alarm="",
                        where="", left="")
    by_number = {p.point: p for p in treatment.plan.points}

    def on_event(event: RunEvent) -> None:
        if isinstance(event, RunProgress):
            nxt = by_number.get(event.next_point) if event.next_point is not None else None
            where = "" if nxt is None else (f"next {nxt.point}" + (f" {escape(nxt.zone)}" if nxt.zone
                                                                    else "")
                                            + f" {nxt.depth_mm:g} mm")
            bar.update(task, completed=event.done + event.cut_short + event.skipped,
                       where=where, left=time_left(event.eta_s),
                       volume=f"{event.delivered_ul:.1f}/{event.planned_ul:.1f} µL",
                       alarm=f"[red]{escape(event.alarm)}[/]" if event.alarm else "")
        elif isinstance(event, AlarmRaised):
            bar.console.print(Text.assemble(("alarm", "red"), f": {event.problem.kind.value}: "
                                            f"{event.problem.detail}"))
        elif isinstance(event, PointFinished) and event.shot.state.value == "uncertain":
            bar.console.print(f"[yellow]point {event.point}: outcome uncertain — counted as delivered[/]")

    treatment.subscribe(on_event)
    DISPLAY.bar = bar
    if treatment.plan.mode == "triggered":
        DISPLAY.on_enter = treatment.soft_trigger
        console.print("TRIGGERED mode: press the pedal, or Enter here, to fire each point")

    def estop(*_: object) -> None:
        try:
            latency = treatment.estop()
            terminal.say(f"EMERGENCY STOP latched in {latency * 1000:.1f} ms")
        except DriverError as exc:
            terminal.say(f"EMERGENCY STOP NOT CONFIRMED: {exc} — cut the power")

    DISPLAY.on_estop = estop
    DISPLAY.start_reading()
    # Ctrl-C sets a flag the loop below turns into a pause at the next shot boundary; a second
    # one while the first is being handled (waiting for the pause, at the prompt) interrupts.
    ctrl_c = _CtrlC()
    previous_int = signal.signal(signal.SIGINT, ctrl_c)
    # Ctrl-\ (SIGQUIT) is the emergency stop, immediate; with or without a terminal (`kill
    # -QUIT`), so that the promise below always holds.
    previous_quit = signal.signal(signal.SIGQUIT, estop)
    try:
        if terminal.interactive():
            console.print("Ctrl-C pauses · Ctrl-\\ or e + Enter: EMERGENCY STOP")
        else:
            console.print("SIGINT aborts at the next shot boundary · SIGQUIT: EMERGENCY STOP")
        with bar:
            treatment.start()
            while not treatment.done.wait(0.1):
                if ctrl_c.take():
                    _on_interrupt(treatment, bar.console)
                    ctrl_c.handled()
    except KeyboardInterrupt:  # a second Ctrl-C while the first is handled: leave it open
        return _leave_open(treatment, console, place)
    finally:
        signal.signal(signal.SIGQUIT, previous_quit)
        signal.signal(signal.SIGINT, previous_int)
    return _summary(treatment, console, place)


class _CtrlC:
    """SIGINT during a run: the first asks for a pause (`take`); another one before that pause
    has been `handled` raises KeyboardInterrupt where the main thread waits."""

    def __init__(self) -> None:
        self._pending = False
        self._handling = False

    def __call__(self, signum: int, frame: object) -> None:
        if self._handling:
            raise KeyboardInterrupt
        self._pending = True

    def take(self) -> bool:
        if self._pending:
            self._pending, self._handling = False, True
            return True
        return False

    def handled(self) -> None:
        self._handling = False


def _summary(treatment: Treatment, console: Console, place: str) -> int:
    result = treatment.result
    s = result.stats
    # A cut-short point is a puncture never repeated, but not a delivered point (issue 8).
    console.print(f"\n[bold]{result.state.value.upper()}[/]: {len(result.delivered)} of "
                  f"{len(treatment.plan.points)} points delivered ({len(result.uncertain)} uncertain), "
                  f"{len(result.partial)} cut short, "
                  f"{len(result.skipped)} skipped, {len(result.pending)} not done · "
                  f"{result.given_ul:.1f} µL given")
    if result.partial:
        console.print(f"[yellow]cut short (under-dosed, not repeated): points {sorted(result.partial)}[/]")
    if result.uncertain:
        console.print(f"[yellow]uncertain (counted as delivered): points {sorted(result.uncertain)}[/]")
    if s.min_slack_s is not None:
        console.print(f"timing: min schedule slack {s.min_slack_s * 1000:.0f} ms · "
                      f"{s.underruns} underruns · {s.late_shots} late shots")
    console.print(f"session {treatment.session} recorded; `mesodrive records show {treatment.session}`")
    if result.state is RunState.COMPLETED:
        return ExitCode.OK
    if result.state is RunState.ESTOPPED:
        console.print(Text(f"the device stays stopped (latched) until cleared: mesodrive "
                           f"clear{place} --reason TEXT"))
        return ExitCode.ESTOPPED
    return ExitCode.FAILED


def _leave_open(treatment: Treatment, console: Console, place: str) -> int:
    """Exit now, the session open and resumable, and say so (records and screen)."""
    import logging

    logging.getLogger("mesodrive").setLevel(logging.CRITICAL)  # the engine's death throes
    try:
        treatment.leave_open("second Ctrl-C: the host stopped during the run")
    except Exception as exc:  # noqa: BLE001 - the records could not take it: still say what to do
        _err(f"warning: could not record the exit: {exc}")
    n = treatment.session
    console.print(Text.assemble(
        "\n", ("interrupted", "bold"), f": session {n} is left OPEN. The device stops by itself "
        f"when the host goes silent (needle retracted, latched LINK_LOST).\nTo continue it, "
        f"never re-injecting: mesodrive resume {n}{place}"))
    return ExitCode.INTERRUPTED


def _on_interrupt(treatment: Treatment, console: Console) -> None:
    console.print("\n[bold]Ctrl-C[/]: pausing at the next shot boundary…")
    treatment.pause()
    if not terminal.interactive():
        treatment.abort("interrupted (no terminal to ask)")
        return
    while treatment.state is not RunState.PAUSED and not treatment.state.terminal:
        threading.Event().wait(0.05)
    if treatment.state.terminal:
        return
    try:
        choice = choose(DISPLAY.ask, "paused. [r]esume or [a]bort? ",
                        {"r": "resume", "a": "abort"})
    except EndOfInput:
        choice = "abort"
    if choice == "resume":
        treatment.resume()
    else:
        treatment.abort("operator abort after Ctrl-C")
