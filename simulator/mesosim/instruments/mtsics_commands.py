"""The MT-SICS command set of the simulated balance (`balance.Balance`): parsing a line, the
replies and their formats, deferred commands waiting for a stable reading, and each command.

A mixin of `Balance`, kept apart from the weighing cell (load, zero, tare, settling, noise) so
that each file holds one concept; the wire format is described in `balance.py`'s docstring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mesosim.instruments._support import RawLine

# The commands implemented, with their MT-SICS level (as `I0` lists them).
COMMAND_LEVELS: dict[str, int] = {
    "@": 0,
    "I0": 0,
    "I1": 0,
    "I2": 0,
    "I3": 0,
    "I4": 0,
    "I5": 0,
    "S": 0,
    "SI": 0,
    "SIR": 0,
    "Z": 0,
    "ZI": 0,
    "T": 1,
    "TA": 1,
    "TAC": 1,
    "TI": 1,
}

# The id a command's replies carry (SI and SIR answer with weight lines of id "S").
_REPLY_ID = {"SI": "S", "SIR": "S"}

# A number as MT-SICS accepts it: no exponent, no nan/inf.
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_UNIT_TO_G = {"g": 1.0, "mg": 1e-3}
_VALUE_FIELD = 10
_UNIT = "g"


@dataclass(slots=True)
class _Deferred:
    """A command waiting for a stable reading."""

    command: str  # "S", "Z" or "T"
    deadline: float


class MtSicsCommands:
    # Provided by the Balance (declared for the type checker).
    capacity_g: float
    readability_g: float
    stability_timeout_s: float
    serial: str
    model: str
    software: str
    decimals: int
    _now: float
    _out: bytearray
    _zero_g: float
    _tare_g: float
    _stable_at: float
    _sir: bool
    _deferred: _Deferred | None

    if TYPE_CHECKING:
        def _range_status(self) -> str | None: ...
        def _zero_status(self) -> str | None: ...
        def _raw_g(self) -> float: ...
        def _observe(self) -> None: ...

    def _send(self, text: str) -> None:
        self._out += text.encode("latin-1") + b"\r\n"

    def _fmt(self, grams: float) -> str:
        digits = round(grams / self.readability_g)  # an int: never "-0.00000"
        text = f"{digits * self.readability_g:.{self.decimals}f}"
        return f"{text:>{_VALUE_FIELD}} {_UNIT}"

    def _weight_line(self, reply_id: str) -> str:
        status = self._range_status()
        if status is not None:
            return f"{reply_id} {status}"
        stable = "S" if self._now >= self._stable_at else "D"
        net = self._raw_g() - self._zero_g - self._tare_g
        return f"{reply_id} {stable} {self._fmt(net)}"

    def _handle(self, line: RawLine) -> None:
        if line.fault:
            self._send("ET")
            return
        words = line.text.split(" ")
        while words and words[-1] == "":  # tolerate trailing spaces
            words.pop()
        if not words or words[0] not in COMMAND_LEVELS:
            self._send("ES")
            return
        command, args = words[0], words[1:]
        if command == "@":
            if args:
                self._send("EL")
                return
            self._reset()
            return
        if len(args) not in ((0, 2) if command == "TA" else (0,)):
            self._send("EL")
            return
        self._sir = False  # any other valid command ends SIR
        reply_id = _REPLY_ID.get(command, command)
        if self._deferred is not None:
            self._send(f"{reply_id} I")
            return
        getattr(self, "_cmd_" + command)(args)

    def _reset(self) -> None:
        """`@`: cancel everything, clear the tare, keep the zero, answer the serial.

        Bytes already received after the `@` line are kept: they are the next command."""
        self._deferred = None
        self._sir = False
        self._tare_g = 0.0
        self._send(f'I4 A "{self.serial}"')

    def _service(self) -> None:
        """One update tick: resolve a deferred command, stream SIR."""
        self._observe()
        deferred = self._deferred
        if deferred is not None:
            status = self._zero_status() if deferred.command == "Z" else self._range_status()
            if status is not None:
                self._deferred = None
                self._send(f"{deferred.command} {status}")
            elif self._now >= self._stable_at:
                self._deferred = None
                self._execute_stable(deferred.command)
            elif self._now >= deferred.deadline:
                self._deferred = None
                self._send(f"{deferred.command} I")
        if self._sir:
            self._send(self._weight_line("S"))

    def _defer_or_execute(self, command: str) -> None:
        status = self._zero_status() if command == "Z" else self._range_status()
        if status is not None:
            self._send(f"{command} {status}")
        elif self._now >= self._stable_at:
            self._execute_stable(command)
        else:
            self._deferred = _Deferred(command, self._now + self.stability_timeout_s)

    def _execute_stable(self, command: str) -> None:
        if command == "S":
            self._send(self._weight_line("S"))
        elif command == "Z":
            self._set_zero()
            self._send("Z A")
        else:
            self._send(f"T S {self._fmt(self._set_tare())}")

    def _set_zero(self) -> None:
        self._zero_g = self._raw_g()
        self._tare_g = 0.0  # zeroing clears the tare memory

    def _set_tare(self) -> float:
        gross = self._raw_g() - self._zero_g
        self._tare_g = round(gross / self.readability_g) * self.readability_g
        return self._tare_g

    # One method per command; `args` has already been checked for count.
    def _cmd_S(self, args: list[str]) -> None:
        self._defer_or_execute("S")

    def _cmd_SI(self, args: list[str]) -> None:
        self._send(self._weight_line("S"))

    def _cmd_SIR(self, args: list[str]) -> None:
        self._send(self._weight_line("S"))
        self._sir = True

    def _cmd_Z(self, args: list[str]) -> None:
        self._defer_or_execute("Z")

    def _cmd_ZI(self, args: list[str]) -> None:
        status = self._zero_status()
        if status is not None:
            self._send(f"ZI {status}")
            return
        stable = "S" if self._now >= self._stable_at else "D"
        self._set_zero()
        self._send(f"ZI {stable}")

    def _cmd_T(self, args: list[str]) -> None:
        self._defer_or_execute("T")

    def _cmd_TI(self, args: list[str]) -> None:
        status = self._range_status()
        if status is not None:
            self._send(f"TI {status}")
            return
        stable = "S" if self._now >= self._stable_at else "D"
        self._send(f"TI {stable} {self._fmt(self._set_tare())}")

    def _cmd_TA(self, args: list[str]) -> None:
        if args:
            value, unit = args
            if not _NUMBER.fullmatch(value) or unit not in _UNIT_TO_G:
                self._send("EL")
                return
            grams = float(value) * _UNIT_TO_G[unit]
            if not 0.0 <= grams <= self.capacity_g:
                self._send("EL")
                return
            self._tare_g = round(grams / self.readability_g) * self.readability_g
        self._send(f"TA A {self._fmt(self._tare_g)}")

    def _cmd_TAC(self, args: list[str]) -> None:
        self._tare_g = 0.0
        self._send("TAC A")

    def _cmd_I0(self, args: list[str]) -> None:
        items = list(COMMAND_LEVELS.items())
        for i, (name, level) in enumerate(items):
            status = "A" if i == len(items) - 1 else "B"
            self._send(f'I0 {status} {level} "{name}"')

    def _cmd_I1(self, args: list[str]) -> None:
        self._send('I1 A "01" "2.20" "2.20" "" ""')

    def _cmd_I2(self, args: list[str]) -> None:
        capacity = f"{self.capacity_g:.{self.decimals}f}"
        self._send(f'I2 A "{self.model} {capacity} {_UNIT}"')

    def _cmd_I3(self, args: list[str]) -> None:
        self._send(f'I3 A "{self.software}"')

    def _cmd_I4(self, args: list[str]) -> None:
        self._send(f'I4 A "{self.serial}"')

    def _cmd_I5(self, args: list[str]) -> None:
        self._send(f'I5 A "{self.software}-mesosim"')
