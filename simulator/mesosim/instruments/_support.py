"""Pieces both simulated instruments share: a serial line assembler and time-keyed noise.

Both are small on purpose; each instrument keeps its own protocol rules.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

__all__ = ["LineAssembler", "RawLine", "TickNoise", "tick_index"]

# A tick boundary computed from float seconds must not flicker between k and k-1 because
# of representation error (0.3 / 0.1 == 2.9999999999999996).
_TICK_EPS = 1e-9


def tick_index(t: float, interval: float) -> int:
    """The index of the update tick that contains simulated time `t`."""
    return math.floor(t / interval + _TICK_EPS)


@dataclass(frozen=True, slots=True)
class RawLine:
    """One received line: its text (latin-1, terminators removed) or a transmission fault.

    `fault` is set when the line carried a control character (a framing/parity error on a
    real UART shows up this way) or overran the input buffer; `text` is then meaningless.
    """

    text: str
    fault: bool = False


class LineAssembler:
    """Splits a byte stream into lines the way a small instrument's UART buffer does.

    * `terminators`: the bytes that end a line (the balance: LF, with an optional CR before
      it; the gauge: CR or LF).
    * A line longer than `max_len` is a fault: it is reported once, when its terminator
      arrives, and everything up to that terminator is discarded. The buffer never grows
      beyond `max_len`, whatever the host sends.
    * Any other control byte (< 0x20, or DEL) in a line marks the line as a fault.
    * Empty lines (a bare terminator, e.g. the LF of a CR LF pair when CR also ends lines)
      are dropped.
    """

    def __init__(self, *, max_len: int, terminators: bytes, strip_cr: bool) -> None:
        self._max_len = max_len
        self._terminators = frozenset(terminators)
        self._strip_cr = strip_cr
        self._buf = bytearray()
        self._overrun = False

    def feed(self, data: bytes) -> list[RawLine]:
        lines: list[RawLine] = []
        for byte in data:
            if byte in self._terminators:
                line = self._finish()
                if line is not None:
                    lines.append(line)
                continue
            if self._overrun:
                continue
            if len(self._buf) >= self._max_len:
                self._overrun = True
                self._buf.clear()
                continue
            self._buf.append(byte)
        return lines

    def _finish(self) -> RawLine | None:
        raw = bytes(self._buf)
        overrun, self._overrun = self._overrun, False
        self._buf.clear()
        if overrun:
            return RawLine("", fault=True)
        if self._strip_cr and raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw:
            return None
        if any(b < 0x20 or b == 0x7F for b in raw):
            return RawLine("", fault=True)
        return RawLine(raw.decode("latin-1"))


class TickNoise:
    """Standard-normal noise that is a pure function of (seed, stream, tick index).

    A reading therefore depends only on simulated time, never on how often the host asked:
    two queries within one update tick see the same value (as on a real display), and a
    run is reproducible from its seed whatever the query pattern.
    """

    def __init__(self, seed: int, stream: str) -> None:
        self._seed = seed & 0xFFFF_FFFF_FFFF_FFFF
        self._stream = zlib.crc32(stream.encode("ascii"))
        self._cache_k: int | None = None
        self._cache_v = 0.0

    def at(self, k: int) -> float:
        if k != self._cache_k:
            entropy = [self._seed, self._stream, k & 0xFFFF_FFFF_FFFF_FFFF]
            rng = np.random.Generator(np.random.PCG64(entropy))
            self._cache_v = float(rng.standard_normal())
            self._cache_k = k
        return self._cache_v
