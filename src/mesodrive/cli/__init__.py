"""The `mesodrive` command line. Each subcommand lives in its own module and registers itself
through `register(subparsers)`; `main` only assembles them and maps errors to exit codes.

Commands are imported lazily (`cli.lazy_commands`): the table `COMMANDS` below names each one,
its module and its help line, so `mesodrive --help` imports no command at all and `mesodrive
plan check` imports only `plan_cmd`. A new command is one line in `COMMANDS` (and its module
with `register(sub)`); nothing here imports it.

Exit codes: `mesodrive.cli.exit_codes.ExitCode`, one set for every command (README).
A user never sees a Python traceback: an unexpected error is one line (MESODRIVE_DEBUG=1 shows
the traceback), and log records are one line each.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Sequence

from mesodrive import __version__
from mesodrive.cli.exit_codes import ExitCode, epilog
from mesodrive.cli.lazy_commands import Command, LazyCommands

# Kept for callers of the old names.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DEVICE, EXIT_INTERRUPTED = (
    ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE, ExitCode.DEVICE, ExitCode.INTERRUPTED)

# Every command, in the order `mesodrive --help` lists them. The module is imported only when
# its command is chosen; the help line must be the one its `register` gives (tests/cli checks).
COMMANDS = (
    Command("run", "mesodrive.cli.run_cmd", "run a treatment plan on the injector"),
    Command("resume", "mesodrive.cli.run_cmd", "resume a session after a host crash"),
    Command("clear", "mesodrive.cli.clear_cmd",
            "clear a latched emergency stop or fault (the reason is recorded)"),
    Command("plan", "mesodrive.cli.plan_cmd", "check or draw a treatment plan"),
    Command("records", "mesodrive.cli.records_cmd",
            "verify, list, show and export treatment records"),
    Command("report", "mesodrive.cli.report_cmd",
            "write a session's printable treatment report (HTML)"),
    Command("calibrate", "mesodrive.cli.calibrate_cmd",
            "technician's calibration: balance check, dose, depth, certificates"),
    Command("console", "mesodrive.console.console_cmd",
            "serve the web console (browser) for treatments"),
    Command("demo", "mesodrive.cli.demo_cmd",
            "fire three shots on the device (built-in simulator by default)"),
    Command("devices", "mesodrive.cli.devices_cmd", "list serial ports and USB injectors"),
    Command("sim", "mesodrive.cli.sim_cmd", "serve the simulated injector on a pty or TCP port"),
)


DESCRIPTION = """\
Control software for automated mesotherapy injectors: plan and run treatments (in a terminal or
the web console), keep tamper-evident records, calibrate depth and dose. Without --device every
command uses the built-in simulated injector, and says SIMULATOR.

start here:
  mesodrive plan check examples/face.toml       is the plan valid, and what will it do?
  mesodrive run examples/face.toml              run it (asks the screening questions first)
  mesodrive records list                        what was done
  mesodrive COMMAND --help                      what a command does, its options, its exit codes"""


def build_parser(*, lazy: bool = False) -> argparse.ArgumentParser:
    """The whole parser tree; `lazy=True` (what `main` uses) imports a command's module only
    when that command is chosen."""
    parser = argparse.ArgumentParser(prog="mesodrive", description=DESCRIPTION,
                                     epilog=epilog(), formatter_class=_Help)
    parser.add_argument("--version", action="version", version=f"mesodrive {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                action=LazyCommands)
    assert isinstance(sub, LazyCommands)
    sub.on_load(_with_exit_codes)  # every command's --help ends with the exit codes
    for command in COMMANDS:
        sub.add_lazy(command)
    if not lazy:
        for command in COMMANDS:
            sub.load(command.name)
    return parser


class _Help(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs keep their line breaks (lists of keys, the exit codes)."""


def _with_exit_codes(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = _Help
    parser.epilog = f"{parser.epilog}\n\n{epilog()}" if parser.epilog else epilog()
    for action in parser._actions:  # the nested commands (plan check, records show, ...)
        if isinstance(action, argparse._SubParsersAction):
            for nested in action.choices.values():
                _with_exit_codes(nested)


def _debug() -> bool:
    return bool(os.environ.get("MESODRIVE_DEBUG"))


class _OneLine(logging.Formatter):
    """`warning: message (the exception)` — the traceback only with MESODRIVE_DEBUG."""

    def format(self, record: logging.LogRecord) -> str:
        if _debug():
            return super().format(record)
        text = f"{record.levelname.lower()}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({record.exc_info[1]!r})"
        return text


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is when a record comes (not when the handler was made)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stderr, flush=True)
        except Exception:  # noqa: BLE001 - a closed stderr must not stop a run
            self.handleError(record)


def _quiet_logging() -> None:
    """Log records of mesodrive (and its simulator) as single lines on stderr, once."""
    for name in ("mesodrive", "mesosim"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
            handler = _StderrHandler(logging.WARNING)
            handler.setFormatter(_OneLine())
            logger.addHandler(handler)

    def thread_died(info: threading.ExceptHookArgs) -> None:
        if _debug():
            threading.__excepthook__(info)
            return
        name = info.thread.name if info.thread is not None else "a thread"
        print(f"error: {name} stopped: {info.exc_value!r}", file=sys.stderr)

    threading.excepthook = thread_died


def main(argv: Sequence[str] | None = None) -> int:
    # mesodrive uses no pydantic plugin; looking for them scans every installed package's
    # metadata (~11 ms of each start). A user's own setting wins.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    args = build_parser(lazy=True).parse_args(argv)
    _quiet_logging()
    try:  # piped output (a log, another program) sees each line when it is printed
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        pass
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except Exception as exc:
        if _debug():
            raise
        print(f"internal error: {exc!r}\nthis is a bug in mesodrive; MESODRIVE_DEBUG=1 shows "
              f"where", file=sys.stderr)
        return ExitCode.FAILED
