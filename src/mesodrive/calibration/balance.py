"""A client for any MT-SICS level 0/1 balance on any pyserial URL (a serial port or pty path,
`socket://host:port`, `rfc2217://…`).

Every exchange is bounded: a reply that does not come is a `BalanceTimeout`, never a hang;
`I` (busy / not stable yet) is retried a bounded number of times, then `BalanceBusy` or,
for a stable-weight request, `BalanceUnstable`. Replies are parsed by `sics.parse_reply`,
which also does the one unit conversion (masses are milligrams from there on).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

from mesodrive.calibration import sics
from mesodrive.calibration.errors import (
    BalanceBusy,
    BalanceCommandError,
    BalanceGarbled,
    BalanceLinkError,
    BalanceLogicalError,
    BalanceOverload,
    BalanceSyntaxError,
    BalanceTimeout,
    BalanceTransmissionError,
    BalanceUnderload,
    BalanceUnstable,
)
from mesodrive.calibration.serial_lines import LineChannel, LineErrors, SerialPort, open_port

__all__ = ["BalanceIdentity", "MtSicsBalance"]

_ERRORS = LineErrors(link=BalanceLinkError, timeout=BalanceTimeout, garbled=BalanceGarbled,
                     name="balance")


@dataclass(frozen=True, slots=True)
class BalanceIdentity:
    model: str
    serial_number: str


class MtSicsBalance:
    """One MT-SICS balance. Create with `MtSicsBalance.open(url)` or around an open port.

    * `reply_timeout_s`: how long an immediate command (`SI`, `ZI`, `I4`, …) may take.
    * `stable_timeout_s`: how long a stable command (`S`, `Z`, `T`) may wait for the balance
      to settle before it answers; must exceed the balance's own stability timeout.
    * `busy_retries`, `busy_delay_s`: how often and how far apart an `I` reply is retried.
    """

    def __init__(
        self,
        port: SerialPort,
        *,
        reply_timeout_s: float = 2.0,
        stable_timeout_s: float = 20.0,
        busy_retries: int = 3,
        busy_delay_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._channel = LineChannel(port, _ERRORS, clock)
        self.reply_timeout_s = reply_timeout_s
        self.stable_timeout_s = stable_timeout_s
        self.busy_retries = busy_retries
        self.busy_delay_s = busy_delay_s

    @classmethod
    def open(cls, url: str, *, baudrate: int = 9600, **options: Any) -> MtSicsBalance:
        """Open `url` (8N1 at `baudrate`, the MT-SICS default) and wrap it."""
        return cls(open_port(url, baudrate, _ERRORS), **options)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- commands ------------------------------------------------------------------------
    def reset(self) -> str:
        """`@`: cancel whatever the balance is doing; returns its serial number."""
        reply = self._ask("@", expect=("I4", "@"))
        return self._text(reply, "@")

    def serial_number(self) -> str:
        return self._text(self._ask("I4"), "I4")

    def model(self) -> str:
        """`I2`: model and capacity as the balance states them, e.g. `XPR205 220 g`."""
        return " ".join(self._texts(self._ask("I2"), "I2"))

    def identify(self) -> BalanceIdentity:
        return BalanceIdentity(model=self.model(), serial_number=self.serial_number())

    def zero(self, *, immediately: bool = False) -> None:
        """`Z` (waits until stable) or `ZI` (now, even if dynamic)."""
        if immediately:
            self._ask("ZI", expect=("ZI",))
        else:
            self._ask("Z", stable=True)

    def tare(self) -> sics.Weighing:
        """`T`: tare when stable; returns the tare weight."""
        return self._weight(self._ask("T", stable=True), "T")

    def weigh(self) -> sics.Weighing:
        """`S`: the next stable weight."""
        return self._weight(self._ask("S", stable=True), "S")

    def weigh_immediately(self) -> sics.Weighing:
        """`SI`: the current weight, stable or not (`Weighing.stable` says which)."""
        return self._weight(self._ask("SI", expect=("S",)), "SI")

    # ----- exchange --------------------------------------------------------------------------
    def _ask(
        self, command: str, *, stable: bool = False, expect: tuple[str, ...] | None = None
    ) -> sics.Reply:
        ids = expect if expect is not None else (command,)
        timeout = self.stable_timeout_s if stable else self.reply_timeout_s
        for attempt in range(self.busy_retries + 1):
            reply = self._exchange(command, ids, timeout)
            if not isinstance(reply, sics.Busy):
                return self._check(reply, command)
            if attempt < self.busy_retries:
                time.sleep(self.busy_delay_s)
        if stable:
            raise BalanceUnstable(
                f"{command}: the weight never became stable ({self.busy_retries + 1} tries); "
                "shield the balance from draught and vibration and let it settle"
            )
        raise BalanceBusy(f"{command}: the balance stayed busy ({self.busy_retries + 1} tries)")

    def _exchange(self, command: str, ids: tuple[str, ...], timeout: float) -> sics.Reply:
        self._channel.send(command)
        deadline = self._channel.deadline(timeout)
        while True:
            line = self._channel.read_line(timeout, command, deadline)
            reply = sics.parse_reply(line)
            if isinstance(reply, sics.CommandError) or reply.command in ids:
                return reply
            # A reply to something else (a late answer to an earlier, timed-out command):
            # skip it, keep waiting for ours.

    def _check(self, reply: sics.Reply, command: str) -> sics.Reply:
        if isinstance(reply, sics.CommandError):
            cls: type[BalanceCommandError] = {
                "ES": BalanceSyntaxError,
                "ET": BalanceTransmissionError,
            }.get(reply.code, BalanceLogicalError)
            meaning = {
                "ES": "does not know this command (is it an MT-SICS balance?)",
                "ET": "received a damaged line (check the baud rate and the cable)",
                "EL": "cannot execute it (wrong parameters or state)",
            }[reply.code]
            raise cls(reply.code, command, f"{command}: {reply.code}: the balance {meaning}")
        if isinstance(reply, sics.Refused):
            raise BalanceLogicalError("L", command, f"{command}: the balance refused it")
        if isinstance(reply, sics.Overload):
            raise BalanceOverload(f"{command}: overload: the load is above the weighing range")
        if isinstance(reply, sics.Underload):
            raise BalanceUnderload(
                f"{command}: underload: the load is below the range (pan missing or lifted?)"
            )
        return reply

    # ----- reply shapes ----------------------------------------------------------------------
    @staticmethod
    def _weight(reply: sics.Reply, command: str) -> sics.Weighing:
        if not isinstance(reply, sics.Weighing):
            raise BalanceGarbled(f"{command}: expected a weight, got {reply!r}")
        return reply

    @staticmethod
    def _texts(reply: sics.Reply, command: str) -> tuple[str, ...]:
        if not isinstance(reply, sics.Acknowledged) or not reply.texts:
            raise BalanceGarbled(f"{command}: expected text, got {reply!r}")
        return reply.texts

    @classmethod
    def _text(cls, reply: sics.Reply, command: str) -> str:
        return cls._texts(reply, command)[0]
