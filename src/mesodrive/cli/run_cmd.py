"""`mesodrive run PLAN` and `mesodrive resume SESSION`: execute a treatment plan.

With no `--device`, the built-in simulator runs in real time and the output says SIMULATOR.
Ctrl-C pauses at the next shot boundary and asks: resume or abort (without a terminal: abort).
Ctrl-\\ (or typing e + Enter) is the EMERGENCY STOP: the needle retracts at once, latched.

Exit codes: 0 completed · 1 plan invalid, or the run ended without completing (aborted,
failed) · 2 bad usage or unreadable input · 3 device or link error before the run started ·
4 emergency-stopped.
"""

from __future__ import annotations

import argparse
import logging
import queue
import signal
import sys
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from mesodrive.controller.device_limits import device_limits
from mesodrive.controller.engine import AlarmRaised, PointFinished, RunEngine, RunEvent
from mesodrive.controller.engine import Progress as RunProgress
from mesodrive.controller.recovery import (
    Answer,
    Decision,
    Problem,
    ProblemKind,
    RecoveryPolicy,
    abort_policy,
)
from mesodrive.controller.resume import settle_open_shots
from mesodrive.controller.states import RunState
from mesodrive.driver.errors import CommandRefused, DriverError
from mesodrive.driver.injector import Injector
from mesodrive.driver.vocabulary import DeviceState
from mesodrive.plan import (
    PlanError,
    PlanFileError,
    load_library,
    load_plan,
    restore_snapshot,
    validate_plan,
)
from mesodrive.records import RecordStore, db_path_problem

log = logging.getLogger(__name__)
SIMULATOR_URL = "sim://?seed=1&realtime=1"
EXIT_OK, EXIT_INCOMPLETE, EXIT_USAGE, EXIT_DEVICE, EXIT_ESTOPPED = 0, 1, 2, 3, 4
SCREENING = (
    "pregnancy or breast-feeding",
    "bleeding disorders or anticoagulants",
    "active skin infection at the site",
    "autoimmune disease",
    "known allergy to an ingredient of the product",
)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("run", help="run a treatment plan on the injector")
    p.add_argument("plan", type=Path, help="plan file (TOML)")
    _common(p)
    p.add_argument("--operator", help="operator name or id, kept in the records")
    p.set_defaults(func=run)
    r: argparse.ArgumentParser = sub.add_parser("resume", help="resume a session after a host crash")
    r.add_argument("session", type=int, help="session id (see `mesodrive records list`)")
    _common(r)
    r.set_defaults(func=resume)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", metavar="URL", help="device URL (default: the built-in simulator)")
    p.add_argument("--db", type=Path, help=f"records database (default: {RecordStore.default_path()})")
    p.add_argument("--yes", action="store_true",
                   help="screening confirmed and recovery questions answered 'abort' (no terminal)")


# ----- run ---------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    console = Console(stderr=False)
    try:
        plan = load_plan(args.plan)
        library = load_library((args.plan.parent / plan.library).resolve())
    except PlanFileError as exc:  # the file itself (or its library) cannot be read
        print(f"error: cannot read plan {args.plan}:\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    except PlanError as exc:
        print(f"plan {args.plan} is invalid:\n{exc}", file=sys.stderr)
        return EXIT_INCOMPLETE
    except OSError as exc:
        print(f"error: cannot read {args.plan}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if (problem := db_path_problem(args.db, create=True)) is not None:  # before the device
        print(f"error: records: {problem}", file=sys.stderr)
        return EXIT_USAGE
    inj = _connect(args, console)
    if inj is None:
        return EXIT_DEVICE
    with inj:
        try:
            vplan = validate_plan(plan, library, device_limits(inj.capabilities), base_dir=args.plan.parent)
        except PlanError as exc:
            print(f"plan {args.plan} is not allowed on this device (nothing was sent):\n{exc}", file=sys.stderr)
            return EXIT_INCOMPLETE
        if not _screening(args, console):
            return EXIT_USAGE
        store = RecordStore(args.db)
        try:
            session = store.start_session(
                plan_snapshot={"plan": vplan.snapshot(), "points": [asdict(p) for p in vplan.points],
                               "source": str(args.plan)},
                plan_hash=vplan.plan_hash, product=vplan.product.model_dump(mode="json"),
                device=_device_record(inj), calibration={"profile": inj.profile.name, **asdict(inj.profile)},
                mode=vplan.mode, operator=args.operator,
            )
            for o in vplan.overrides:  # soft-limit breaches the plan justified: on the record
                where = f"point {o.point}" if o.point is not None else "plan"
                store.record_action(session, "override", f"{o.field} = {o.value} ({where}) beyond "
                                    f"{o.limit}: {o.reason}", operator=args.operator)
            console.print(f"session [bold]{session}[/] · {len(vplan.points)} points · "
                          f"{vplan.estimate.total_volume_ul:.0f} µL · ~{vplan.estimate.duration_s:.0f} s")
            engine = RunEngine(inj, vplan, store, session, policy=_policy(args, console))
            return _execute(engine, console)
        finally:
            store.close()


def resume(args: argparse.Namespace) -> int:
    console = Console()
    db = args.db or RecordStore.default_path()
    if (problem := db_path_problem(db, create=False)) is not None:  # missing, folder, read-only...
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    store = RecordStore(db)
    try:
        try:
            detail = store.session(args.session)
        except KeyError:
            print(f"error: no session {args.session} in {db}", file=sys.stderr)
            return EXIT_USAGE
        if detail.status in ("completed", "aborted", "e-stopped"):
            console.print(f"session {args.session} already ended: {detail.status}")
            return EXIT_OK if detail.status == "completed" else EXIT_INCOMPLETE
        try:
            # Re-validated, and refused if the stored plan no longer matches its hash.
            vplan = restore_snapshot(detail.plan_snapshot["plan"])
        except PlanError as exc:
            print(f"error: cannot resume session {args.session} from its recorded plan:\n{exc}",
                  file=sys.stderr)
            return EXIT_INCOMPLETE
        if vplan.plan_hash != detail.plan_hash:
            print(f"error: session {args.session}'s plan hash {vplan.plan_hash} differs from the "
                  f"recorded {detail.plan_hash}: refusing to resume", file=sys.stderr)
            return EXIT_INCOMPLETE
        inj = _connect(args, console)
        if inj is None:
            return EXIT_DEVICE
        with inj:
            planned = {p.point: p.volume_ul for p in vplan.points}
            state = settle_open_shots(store, args.session, inj, planned)
            store.record_action(args.session, "resume-after-crash",
                                f"settled {len(state.settled)} open shot(s): "
                                + ", ".join(f"{r.index}={r.state}" for r in state.settled))
            for row in state.settled:
                console.print(f"shot {row.index} (point {row.point}): {row.state} — {row.reason}")
            console.print(f"resuming session {args.session}: {len(state.delivered)} of "
                          f"{len(vplan.points)} points already delivered "
                          f"({len(state.uncertain)} uncertain), {len(state.skipped)} skipped")
            _clear_fault(inj)
            engine = RunEngine(inj, vplan, store, args.session, policy=_policy(args, console),
                               first_index=state.first_index, delivered=state.delivered,
                               uncertain=state.uncertain, partial=state.partial,
                               skipped=state.skipped)
            return _execute(engine, console)
    finally:
        store.close()


# ----- shared ------------------------------------------------------------------------------------
def simulator_url(db: str | Path | None) -> str:
    """The built-in simulator, with its non-volatile shot journal and its truth log (what it
    really injected, a line when a shot starts moving and one when it ends) beside the records
    database: it dies with this process, and after a kill its next boot still knows what the
    last one did, so `resume` settles a shot exactly instead of counting it uncertain."""
    folder = Path(db or RecordStore.default_path()).parent
    nvm = urllib.parse.quote(str(folder / "simulator-nvm.jsonl"))
    truth = urllib.parse.quote(str(folder / "simulator-shots.jsonl"))
    return f"{SIMULATOR_URL}&nvm={nvm}&shot_log={truth}"


def _connect(args: argparse.Namespace, console: Console) -> Injector | None:
    url = args.device or simulator_url(args.db)
    if args.device is None:
        console.print("[bold yellow]SIMULATOR[/]: no --device given, using the built-in simulated injector")
    try:
        inj = Injector.connect(url)
    except DriverError as exc:
        print(f"error: cannot connect to {url}: {exc}", file=sys.stderr)
        return None
    caps = inj.capabilities
    console.print(f"device {caps.serial} · firmware {caps.firmware} · boot {caps.boot_nonce:#010x}")
    return inj


def _clear_fault(inj: Injector) -> None:
    """A crashed host leaves the device in LINK_LOST: clear it (the engine re-homes)."""
    if inj.status().state in (DeviceState.FAULT, DeviceState.ESTOPPED):
        inj.clear_fault()
        inj.wait_state(DeviceState.IDLE, timeout=5)


def _device_record(inj: Injector) -> dict[str, Any]:
    return inj.capabilities.as_record()


def _interactive() -> bool:
    return sys.stdin.isatty()


def _screening(args: argparse.Namespace, console: Console) -> bool:
    if args.yes:
        return True
    if not _interactive():
        print("error: confirm the contraindication screening: run in a terminal, or pass --yes",
              file=sys.stderr)
        return False
    console.print("Contraindication screening — does the patient have any of:")
    for item in SCREENING:
        console.print(f"  · {item}")
    answer = input("Screening done and none applies? [y/N] ").strip().lower()
    if answer != "y":
        console.print("not confirmed: nothing was done")
        return False
    return True


class _Terminal:
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
        self._answers: queue.Queue[str] = queue.Queue()
        self._triggers: queue.Queue[None] = queue.Queue()
        self._asking = threading.Event()
        self._reader: threading.Thread | None = None

    def start_reading(self) -> None:
        if self._reader is None and _interactive():
            self._reader = threading.Thread(target=self._read, name="mesodrive-tty", daemon=True)
            self._reader.start()
            threading.Thread(target=self._fire, name="mesodrive-trigger", daemon=True).start()

    def _read(self) -> None:
        for line in sys.stdin:
            try:
                self.on_line(line)
            except Exception:  # the reader is the e-stop path: it must outlive any handler bug
                log.exception("terminal input handler failed on %r", line)

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
                _say(f"not fired: the device refused the trigger ({exc.code})")
            except DriverError as exc:  # no reply in time: it may well have fired
                _say(f"no answer to the trigger yet ({exc}); it may have fired — watch the progress")
            except Exception:
                log.exception("trigger failed")

    def ask(self, prompt: str) -> str:
        if self._reader is None:  # nothing reads stdin yet: a plain prompt
            return input(prompt)
        if self.bar is not None:
            self.bar.stop()
        self._asking.set()
        try:
            print(prompt, end="", flush=True)
            while True:
                try:
                    return self._answers.get(timeout=0.1)  # a timeout keeps Ctrl-C responsive
                except queue.Empty:
                    continue
        finally:
            self._asking.clear()
            if self.bar is not None:
                self.bar.start()


def _say(text: str) -> None:
    """A plain line from a background thread: never rich, never raising."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 - a broken terminal must not stop the run or the e-stop
        log.warning("could not print to the terminal: %s", text)


DISPLAY = _Terminal()


def _policy(args: argparse.Namespace, console: Console) -> RecoveryPolicy:
    if args.yes or not _interactive():
        return abort_policy

    def ask(problem: Problem) -> Answer:
        console.print(f"\n[bold red]ALARM[/] {problem.kind.value} at point {problem.point}: {problem.detail}")
        while True:
            choice = DISPLAY.ask("fix it, then: [r]etry / [s]kip point / [a]bort? ").strip().lower()[:1]
            if choice in ("r", "s", "a"):
                break
        reason = DISPLAY.ask("reason (recorded): ").strip() or "(none given)"
        refill = None
        if choice == "r" and problem.kind in (ProblemKind.EMPTY_SYRINGE, ProblemKind.REFILL_DUE):
            text = DISPLAY.ask("volume of the new syringe in µL (empty = full syringe): ").strip()
            refill = float(text) if text else None
        decision = {"r": Decision.RETRY, "s": Decision.SKIP, "a": Decision.ABORT}[choice]
        return Answer(decision, reason, refill)

    return ask


def _execute(engine: RunEngine, console: Console) -> int:
    """Run in a worker thread; the main thread shows progress and turns Ctrl-C into a pause."""
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
                   TextColumn("{task.fields[volume]}"), TimeRemainingColumn(),
                   TextColumn("{task.fields[alarm]}"), console=console, transient=False)
    task = bar.add_task("points", total=len(engine.plan.points), volume="", alarm="")

    def on_event(event: RunEvent) -> None:
        if isinstance(event, RunProgress):
            bar.update(task, completed=event.done + event.skipped,
                       volume=f"{event.delivered_ul:.1f}/{event.planned_ul:.1f} µL",
                       alarm=f"[red]{event.alarm}[/]" if event.alarm else "")
        elif isinstance(event, AlarmRaised):
            bar.console.print(f"[red]alarm[/]: {event.problem.kind.value}: {event.problem.detail}")
        elif isinstance(event, PointFinished) and event.shot.state.value == "uncertain":
            bar.console.print(f"[yellow]point {event.point}: outcome uncertain — counted as delivered[/]")

    engine.subscribe(on_event)
    done = threading.Event()

    def work() -> None:
        try:
            engine.run()
        finally:
            done.set()

    # Waiting on an Event, not Thread.join: a KeyboardInterrupt inside join() can leave
    # is_alive() wrongly False (CPython < 3.13), and we must not close the records under a
    # run that is still stopping.
    worker = threading.Thread(target=work, name="mesodrive-run", daemon=True)
    DISPLAY.bar = bar
    if engine.plan.mode == "triggered":
        DISPLAY.on_enter = engine.inj.soft_trigger
        console.print("TRIGGERED mode: press the pedal, or Enter here, to fire each point")
    def estop(*_: object) -> None:
        try:
            latency = engine.estop()
            _say(f"EMERGENCY STOP latched in {latency * 1000:.1f} ms")
        except DriverError as exc:
            _say(f"EMERGENCY STOP NOT CONFIRMED: {exc} — cut the power")

    DISPLAY.on_estop = estop
    DISPLAY.start_reading()
    # Ctrl-\ (SIGQUIT) is the terminal's emergency stop: immediate, no Enter needed.
    previous = signal.signal(signal.SIGQUIT, estop) if _interactive() else None
    console.print("Ctrl-C pauses · Ctrl-\\ or e + Enter: EMERGENCY STOP")
    try:
        with bar:
            worker.start()
            while not done.is_set():
                try:
                    done.wait(0.1)
                except KeyboardInterrupt:
                    _on_interrupt(engine, bar.console)
    finally:
        if previous is not None:
            signal.signal(signal.SIGQUIT, previous)
    result = engine.result
    s = result.stats
    console.print(f"\n[bold]{result.state.value.upper()}[/]: {len(result.delivered)} of "
                  f"{len(engine.plan.points)} points delivered ({len(result.uncertain)} uncertain, "
                  f"{len(result.partial)} cut short), "
                  f"{len(result.skipped)} skipped, {len(result.pending)} not done · "
                  f"{sum(result.delivered.values()):.1f} µL")
    if result.partial:
        console.print(f"[yellow]cut short (under-dosed, not repeated): points {sorted(result.partial)}[/]")
    if result.uncertain:
        console.print(f"[yellow]uncertain (counted as delivered): points {sorted(result.uncertain)}[/]")
    if s.min_slack_s is not None:
        console.print(f"timing: min schedule slack {s.min_slack_s * 1000:.0f} ms · "
                      f"{s.underruns} underruns · {s.late_shots} late shots")
    console.print(f"session {engine.session} recorded; `mesodrive records show {engine.session}`")
    if result.state is RunState.COMPLETED:
        return EXIT_OK
    if result.state is RunState.ESTOPPED:
        return EXIT_ESTOPPED
    return EXIT_INCOMPLETE


def _on_interrupt(engine: RunEngine, console: Console) -> None:
    console.print("\n[bold]Ctrl-C[/]: pausing at the next shot boundary…")
    engine.pause()
    if not _interactive():
        engine.abort("interrupted (no terminal to ask)")
        return
    while engine.state not in (RunState.PAUSED,) and not engine.state.terminal:
        threading.Event().wait(0.05)
    if engine.state.terminal:
        return
    choice = DISPLAY.ask("paused. [r]esume or [a]bort? ").strip().lower()[:1]
    if choice == "r":
        engine.resume()
    else:
        engine.abort("operator abort after Ctrl-C")
