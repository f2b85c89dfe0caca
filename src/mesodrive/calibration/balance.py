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
from typing import Any, Protocol, Self

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

__all__ = ["BalanceIdentity", "MtSicsBalance", "SerialPort"]

# How long one port.read may block; the overall deadline is ours, not the port's.
_POLL_S = 0.05
_MAX_LINE = 256  # a reply longer than this is not MT-SICS (and a wrong baud rate never ends)


class SerialPort(Protocol):
    """What we need of a pyserial port (`serial.Serial`, `serial_for_url(...)`)."""

    timeout: float | None

    def write(self, data: bytes) -> int | None: ...
    def read(self, size: int = 1) -> bytes: ...
    def reset_input_buffer(self) -> None: ...
    def close(self) -> None: ...


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
        self._port = port
        self._port.timeout = _POLL_S
        self.reply_timeout_s = reply_timeout_s
        self.stable_timeout_s = stable_timeout_s
        self.busy_retries = busy_retries
        self.busy_delay_s = busy_delay_s
        self._clock = clock
        self._pending = bytearray()

    @classmethod
    def open(cls, url: str, *, baudrate: int = 9600, **options: Any) -> MtSicsBalance:
        """Open `url` (8N1 at `baudrate`, the MT-SICS default) and wrap it."""
        import serial

        try:
            port = serial.serial_for_url(url, baudrate=baudrate, timeout=_POLL_S)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise BalanceLinkError(f"cannot open {url!r}: {exc}") from None
        return cls(port, **options)

    def close(self) -> None:
        try:
            self._port.close()
        except OSError:  # closing a port whose device vanished
            pass

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
        self._discard_stale()
        self._write(command.encode("ascii") + b"\r\n")
        deadline = self._clock() + timeout
        while True:
            line = self._read_line(deadline, command, timeout)
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

    def _discard_stale(self) -> None:
        self._pending.clear()
        try:
            self._port.reset_input_buffer()
        except Exception as exc:  # noqa: BLE001 - SerialException, OSError, a closed socket
            raise BalanceLinkError(f"serial port: {exc}") from None

    def _write(self, data: bytes) -> None:
        try:
            self._port.write(data)
        except Exception as exc:  # noqa: BLE001 - SerialException, OSError, a closed socket
            raise BalanceLinkError(f"cannot write to the balance: {exc}") from None

    def _read_line(self, deadline: float, command: str, timeout: float) -> bytes:
        """The next non-empty line (CR, LF or CR LF ends it) before `deadline`."""
        while True:
            line = self._take_line()
            if line is not None:
                return line
            if len(self._pending) > _MAX_LINE:
                raise BalanceGarbled(
                    f"{command}: {len(self._pending)} bytes without a line end: "
                    f"{bytes(self._pending[:24])!r}… (wrong baud rate?)"
                )
            if self._clock() >= deadline:
                if self._pending:
                    raise BalanceGarbled(
                        f"{command}: an incomplete reply {bytes(self._pending[:40])!r} "
                        f"(wrong baud rate or line end?)"
                    )
                raise BalanceTimeout(
                    f"{command}: no answer within {timeout:g} s (is the balance on, "
                    "the cable connected, the port and baud rate right?)"
                )
            try:
                chunk = self._port.read(1)
                if chunk:
                    chunk += self._port.read(getattr(self._port, "in_waiting", 0) or 0)
            except Exception as exc:  # noqa: BLE001 - SerialException, OSError
                raise BalanceLinkError(f"cannot read from the balance: {exc}") from None
            self._pending += chunk

    def _take_line(self) -> bytes | None:
        while True:
            ends = [i for i in (self._pending.find(b"\r"), self._pending.find(b"\n")) if i >= 0]
            if not ends:
                return None
            end = min(ends)
            line = bytes(self._pending[:end])
            del self._pending[: end + 1]
            if line.strip():
                return line

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
