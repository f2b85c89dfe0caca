"""`mesodrive calibrate`: the technician's calibration commands.

    mesodrive calibrate balance --balance URL [--baud N] [--timeout S]

`balance` checks the bench balance before a calibration: it identifies it (model, serial
number), zeroes it, reads one stable weight and prints it with its unit and readability —
or says exactly what is wrong. URL is anything pyserial opens: `/dev/ttyUSB0`, a pty path,
`socket://host:port`.

Exit codes: 0 ok · 1 the balance answered but the check failed (overload, underload, the
weight never settled, a command refused, a unit we do not read) · 2 bad usage · 3 the
balance cannot be reached (port cannot be opened, no answer, garbage: wrong baud rate).
No traceback is ever printed; set MESODRIVE_DEBUG=1 to see one for an internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

from mesodrive.calibration.balance import MtSicsBalance
from mesodrive.calibration.errors import (
    BalanceGarbled,
    BalanceLinkError,
    BalanceTimeout,
    BalanceTransmissionError,
    CalibrationError,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DEVICE = 0, 1, 2, 3

# Errors that mean "cannot talk to it" (exit 3); every other CalibrationError is a failed check.
_UNREACHABLE = (BalanceLinkError, BalanceTimeout, BalanceGarbled, BalanceTransmissionError)

_HINTS: list[tuple[type[CalibrationError], str]] = [
    (BalanceTimeout, ("check that the balance is on, the cable is connected, and the port and "
                     "baud rate (--baud) match the balance's interface settings")),
    (BalanceGarbled, ("the bytes are not MT-SICS: most often the baud rate (--baud) or the "
                     "data format (8N1) differs from the balance's settings")),
    (BalanceTransmissionError, "set the same baud rate and 8N1 on the balance and here"),
]


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "calibrate", help="technician's calibration: balance check, dose, depth, certificates",
        description="Calibration commands for technicians (calibration/PROCEDURES.md).")
    actions = p.add_subparsers(dest="calibrate_command", required=True, metavar="ACTION")
    bal: argparse.ArgumentParser = actions.add_parser(
        "balance", help="identify, zero and read the balance",
        description="Identify the balance, zero it and read one stable weight.")
    _balance_options(bal)
    bal.set_defaults(func=_guarded(check_balance))


def _balance_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--balance", metavar="URL", required=True,
                   help="the balance's port: /dev/ttyUSB0, a pty path, socket://host:port")
    p.add_argument("--baud", type=_positive_int, default=9600, metavar="N",
                   help="baud rate (default 9600, 8N1)")
    p.add_argument("--timeout", type=_positive_float, default=30.0, metavar="S",
                   help="how long one stable weighing may take (default 30 s)")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _guarded(action: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Map every calibration error to its message, hint and exit code; never a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return action(args)
        except CalibrationError as exc:
            print(f"error: {exc}", file=sys.stderr)
            for kind, hint in _HINTS:
                if isinstance(exc, kind):
                    print(f"hint: {hint}", file=sys.stderr)
                    break
            return EXIT_DEVICE if isinstance(exc, _UNREACHABLE) else EXIT_FAILED
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug: say so plainly, no traceback
            if os.environ.get("MESODRIVE_DEBUG"):
                traceback.print_exc()
            print(f"internal error: {type(exc).__name__}: {exc} "
                  "(please report it; MESODRIVE_DEBUG=1 shows the details)", file=sys.stderr)
            return EXIT_FAILED

    return run


def _open_balance(args: argparse.Namespace) -> MtSicsBalance:
    return MtSicsBalance.open(args.balance, baudrate=args.baud, stable_timeout_s=args.timeout,
                              busy_retries=1)


def _mg(value_mg: float, readability_mg: float) -> str:
    decimals = max(0, min(6, round(-_log10(readability_mg))))
    return f"{value_mg:.{decimals}f} mg"


def _log10(x: float) -> float:
    import math

    return math.log10(x) if x > 0 else 0.0


def check_balance(args: argparse.Namespace) -> int:
    with _open_balance(args) as balance:
        balance.reset()
        ident = balance.identify()
        print(f"balance: {ident.model} (serial {ident.serial_number}) on {args.balance}")
        balance.zero()
        print("zeroed")
        weight = balance.weigh()
        print(f"stable weight: {_mg(weight.mass_mg, weight.readability_mg)} "
              f"(readability {weight.readability_mg:g} mg)")
        print("balance OK")
    return EXIT_OK
