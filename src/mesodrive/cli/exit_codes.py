"""The exit codes of every `mesodrive` command, in one place (README: "Exit codes").

The numbers are the ones the commands have always used; scripts and tests depend on them.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    """Done: the treatment completed, the plan is valid, the records verify, the device cleared."""
    FAILED = 1
    """The job ran but did not succeed: an invalid plan (or one not allowed on this device), a
    run that ended without completing (aborted, failed), failed verification, a damaged records
    file, a session that cannot be resumed, a device fault `demo` met, an internal error."""
    USAGE = 2
    """Bad usage or unreadable input: a missing plan file, a bad --db, an unknown session, the
    screening not confirmed, a missing --reason without a terminal."""
    DEVICE = 3
    """The device or its link, before anything started: cannot connect, a latched emergency stop
    or fault that must be cleared first (`mesodrive clear`), a clear the device refused, a
    simulator that died (`sim`)."""
    ESTOPPED = 4
    """The run was emergency-stopped: the device is latched until `mesodrive clear`."""
    INTERRUPTED = 130
    """Interrupted (a second Ctrl-C during a run, or Ctrl-C outside one). A run's session is left
    open and says so; `mesodrive resume SESSION` settles its shots and continues it."""


SHORT = {
    ExitCode.OK: "done (completed, valid, verified, cleared)",
    ExitCode.FAILED: "the job ran but did not succeed (invalid plan, aborted run, failed check)",
    ExitCode.USAGE: "bad usage or unreadable input (a file, --db, a session number, a reason)",
    ExitCode.DEVICE: "the device, before anything started (cannot connect; e-stopped: clear it)",
    ExitCode.ESTOPPED: "the run was emergency-stopped (the device stays latched until clear)",
    ExitCode.INTERRUPTED: "interrupted (a second Ctrl-C; an open session says how to resume)",
}


def epilog() -> str:
    """The exit codes, as every command's --help ends."""
    lines = ["exit codes:"] + [f"  {int(code):>3}  {SHORT[code]}" for code in ExitCode]
    lines.append("(the README's \"Exit codes\" table says which command uses which, and when)")
    return "\n".join(lines)
