"""A simulated digital depth gauge (dial-indicator style) on a serial line.

It measures the needle's true protrusion, `source()` in µm, the way a bench indicator with
an RS-232 output would: 0.001 mm resolution, about 1 µm of gaussian noise, a relative zero
and a unit switch. The protocol is ours, modelled on common digital indicators:

    host                      gauge                         meaning
    ?                         +1.234 mm                     one reading, current unit
    Z                         OK                            zero here (relative mode)
    A                         OK                            absolute mode (clear the zero)
    U                         mm                            query the unit
    U MM | U IN               OK                            set the unit (mm: 3 dp, in: 5 dp)
    I                         MESOSIM-DG <serial> <sw>      identify
    (unknown)                 ERR CMD
    (bad parameter)           ERR PARAM
    (overlong / control byte) ERR LINE
    ? beyond the range        ERR RANGE

Commands end with CR or LF (CR LF works too: the empty line between is ignored) and are
case-insensitive; every reply ends CR LF. The reading updates every `update_interval_s`;
its noise is keyed to (seed, update tick), so it is a pure function of simulated time.
The gauge never speaks unasked, so `next_wakeup()` is always None.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from mesosim.instruments._support import LineAssembler, RawLine, TickNoise, tick_index

__all__ = ["DepthGauge"]

_UM_PER_UNIT = {"mm": 1000.0, "in": 25400.0}
_DECIMALS = {"mm": 3, "in": 5}


class DepthGauge:
    """A digital depth gauge reading `source()` (µm); a `ByteDevice`.

    `offset_um` is where the gauge's absolute zero sits relative to the needle's zero
    (mounting error; 0 = perfectly set up). `range_mm` is the measuring range of the
    absolute value; readings outside it answer `ERR RANGE`.
    """

    def __init__(
        self,
        source: Callable[[], float],
        *,
        seed: int = 0,
        noise_sd_um: float = 1.0,
        resolution_mm: float = 0.001,
        offset_um: float = 0.0,
        range_mm: tuple[float, float] = (-2.0, 12.7),
        update_interval_s: float = 0.05,
        serial: str = "DG0000001",
        software: str = "1.0",
        max_line: int = 32,
        start_time: float = 0.0,
    ) -> None:
        if resolution_mm <= 0 or update_interval_s <= 0 or noise_sd_um < 0:
            raise ValueError("resolution and update interval must be positive, noise >= 0")
        self._source = source
        self.seed = seed
        self.noise_sd_um = noise_sd_um
        self.resolution_mm = resolution_mm
        self.offset_um = offset_um
        self.range_mm = range_mm
        self.update_interval_s = update_interval_s
        self.serial = serial
        self.software = software
        self.unit = "mm"
        self.zero_um = 0.0  # the relative zero (0 in absolute mode)

        self._now = float(start_time)
        self._noise = TickNoise(seed, "depth-gauge")
        self._lines = LineAssembler(max_len=max_line, terminators=b"\r\n", strip_cr=False)
        self._out = bytearray()

    # ------------------------------------------------------------------ ByteDevice
    @property
    def now(self) -> float:
        return self._now

    def write(self, data: bytes) -> None:
        for line in self._lines.feed(bytes(data)):
            self._handle(line)

    def read(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def next_wakeup(self) -> float | None:
        return None

    def advance_to(self, t: float) -> None:
        if not math.isfinite(t):
            raise ValueError(f"advance_to needs a finite time, got {t!r}")
        self._now = max(self._now, t)

    # ----------------------------------------------------------------- measurement
    def absolute_um(self) -> float:
        """The unrounded absolute value the gauge measures now (noise included)."""
        k = tick_index(self._now, self.update_interval_s)
        return self._source() + self.offset_um + self.noise_sd_um * self._noise.at(k)

    def _in_range(self, absolute_um: float) -> bool:
        low, high = self.range_mm
        return low * 1000.0 <= absolute_um <= high * 1000.0

    def _format(self, um: float) -> str:
        resolution_um = self.resolution_mm * 1000.0
        steps = round(um / resolution_um)  # an int: never "-0.000"
        value = steps * resolution_um / _UM_PER_UNIT[self.unit]
        return f"{value:+.{_DECIMALS[self.unit]}f} {self.unit}"

    # ------------------------------------------------------------------ the wire
    def _send(self, text: str) -> None:
        self._out += text.encode("latin-1") + b"\r\n"

    def _handle(self, line: RawLine) -> None:
        if line.fault:
            self._send("ERR LINE")
            return
        words = line.text.upper().split()
        if not words:
            self._send("ERR CMD")
            return
        command, args = words[0], words[1:]
        if command == "U" and len(args) == 1:
            unit = args[0].lower()
            if unit not in _UM_PER_UNIT:
                self._send("ERR PARAM")
                return
            self.unit = unit
            self._send("OK")
            return
        if command not in ("?", "Z", "A", "U", "I"):
            self._send("ERR CMD")
            return
        if args:
            self._send("ERR PARAM")
            return
        if command == "?":
            absolute = self.absolute_um()
            if not self._in_range(absolute):
                self._send("ERR RANGE")
            else:
                self._send(self._format(absolute - self.zero_um))
        elif command == "Z":
            absolute = self.absolute_um()
            if not self._in_range(absolute):
                self._send("ERR RANGE")
                return
            # Zero on the internal count, so relative readings are whole steps apart.
            resolution_um = self.resolution_mm * 1000.0
            self.zero_um = round(absolute / resolution_um) * resolution_um
            self._send("OK")
        elif command == "A":
            self.zero_um = 0.0
            self._send("OK")
        elif command == "U":
            self._send(self.unit)
        else:
            self._send(f"MESOSIM-DG {self.serial} {self.software}")
