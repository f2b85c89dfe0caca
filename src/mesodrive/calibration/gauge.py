"""A client for the bench depth gauge (a digital indicator with an RS-232 output; the
protocol of `mesosim.instruments.depth_gauge`): `I` identify, `A` absolute mode, `?` one
reading (`+1.234 mm` or `+0.04858 in`). Readings are converted to millimetres here, in
`_to_mm`, and nowhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Self

from mesodrive.calibration.errors import (
    GaugeGarbled,
    GaugeLinkError,
    GaugeOutOfRange,
    GaugeRefused,
    GaugeTimeout,
)
from mesodrive.calibration.serial_lines import LineChannel, LineErrors, SerialPort, open_port

__all__ = ["DepthGaugeClient", "GaugeIdentity", "GaugeReading"]

_ERRORS = LineErrors(link=GaugeLinkError, timeout=GaugeTimeout, garbled=GaugeGarbled,
                     name="depth gauge")
_READING = re.compile(r"(?P<value>[+-]?\s*(\d+(\.\d*)?|\.\d+))\s*(?P<unit>mm|in)\Z", re.IGNORECASE)
_MM_PER_UNIT = {"mm": 1.0, "in": 25.4}


@dataclass(frozen=True, slots=True)
class GaugeIdentity:
    model: str
    serial_number: str
    software: str


@dataclass(frozen=True, slots=True)
class GaugeReading:
    value_mm: float
    resolution_mm: float  # one digit as shown


def _to_mm(value: float, unit: str) -> float:
    """The one unit conversion of a gauge reading."""
    return value * _MM_PER_UNIT[unit.lower()]


def parse_reading(line: bytes) -> GaugeReading:
    text = line.decode("ascii", errors="replace").strip()
    match = _READING.match(text)
    if match is None:
        raise GaugeGarbled(f"not a gauge reading: {text[:40]!r}")
    number = match["value"].replace(" ", "")
    decimals = len(number.split(".", 1)[1]) if "." in number else 0
    return GaugeReading(value_mm=_to_mm(float(number), match["unit"]),
                        resolution_mm=_to_mm(10.0**-decimals, match["unit"]))


class DepthGaugeClient:
    def __init__(self, port: SerialPort, *, reply_timeout_s: float = 2.0) -> None:
        self._channel = LineChannel(port, _ERRORS)
        self.reply_timeout_s = reply_timeout_s

    @classmethod
    def open(cls, url: str, *, baudrate: int = 9600, reply_timeout_s: float = 2.0) -> Self:
        return cls(open_port(url, baudrate, _ERRORS), reply_timeout_s=reply_timeout_s)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ask(self, command: str) -> bytes:
        self._channel.send(command, b"\r")
        line = self._channel.read_line(self.reply_timeout_s, command)
        text = line.decode("ascii", errors="replace").strip()
        if text.upper() == "ERR RANGE":
            raise GaugeOutOfRange(f"{command}: the spindle is outside the gauge's range")
        if text.upper().startswith("ERR"):
            raise GaugeRefused(f"{command}: the gauge answered {text!r}")
        return line

    def identify(self) -> GaugeIdentity:
        fields = self._ask("I").decode("ascii", errors="replace").split()
        if len(fields) < 2:
            raise GaugeGarbled(f"I: not an identity: {' '.join(fields)!r}")
        return GaugeIdentity(fields[0], fields[1], " ".join(fields[2:]))

    def absolute(self) -> None:
        """Absolute mode: readings relative to the gauge's own reference (its mounting)."""
        self._expect_ok("A")

    def millimetres(self) -> None:
        self._expect_ok("U MM")

    def _expect_ok(self, command: str) -> None:
        reply = self._ask(command).decode("ascii", errors="replace").strip()
        if reply.upper() != "OK":
            raise GaugeGarbled(f"{command}: expected OK, got {reply!r}")

    def read(self) -> GaugeReading:
        return parse_reading(self._ask("?"))
