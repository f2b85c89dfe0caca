"""The simulated digital depth gauge."""

from __future__ import annotations

import re
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mesosim.instruments import DepthGauge

READING = re.compile(rb"^([+-]\d+\.\d{3}) mm\r\n$")


class Bench:
    def __init__(self, **kwargs: object) -> None:
        self.needle_um = 0.0
        self.gauge = DepthGauge(lambda: self.needle_um, **kwargs)  # type: ignore[arg-type]

    def cmd(self, line: str, end: bytes = b"\r") -> bytes:
        self.gauge.write(line.encode("latin-1") + end)
        return self.gauge.read()

    def mm(self) -> float:
        m = READING.match(self.cmd("?"))
        assert m
        return float(m.group(1))


def test_reading_format_and_resolution() -> None:
    b = Bench(noise_sd_um=0.0)
    b.needle_um = 1234.4
    assert b.cmd("?") == b"+1.234 mm\r\n"
    b.needle_um = 1234.6
    assert b.cmd("?") == b"+1.235 mm\r\n"
    b.needle_um = -250.0
    assert b.cmd("?") == b"-0.250 mm\r\n"
    b.needle_um = -0.2
    assert b.cmd("?") == b"+0.000 mm\r\n"  # never "-0.000"


def test_noise_is_about_one_micrometre_and_unbiased() -> None:
    b = Bench(seed=4)
    b.needle_um = 2500.0
    values = []
    for i in range(400):
        b.gauge.advance_to(0.05 * (i + 1))
        values.append(b.mm() * 1000.0)
    assert 0.8 < statistics.stdev(values) < 1.25
    assert statistics.mean(values) == pytest.approx(2500.0, abs=0.2)
    assert all(v == round(v) for v in values)  # whole micrometres


def test_same_update_same_reading_and_determinism() -> None:
    def run(seed: int) -> list[bytes]:
        b = Bench(seed=seed)
        b.needle_um = 1000.0
        out = []
        for i in range(20):
            b.gauge.advance_to(0.07 * i)
            out.append(b.cmd("?"))
        return out

    b = Bench(seed=1)
    b.gauge.advance_to(1.01)
    assert b.cmd("?") == b.cmd("?")
    assert run(9) == run(9)
    assert run(9) != run(10)


def test_zero_and_absolute() -> None:
    b = Bench(noise_sd_um=0.0)
    b.needle_um = 3000.0
    assert b.cmd("Z") == b"OK\r\n"
    assert b.cmd("?") == b"+0.000 mm\r\n"
    b.needle_um = 4250.0
    assert b.cmd("?") == b"+1.250 mm\r\n"
    assert b.cmd("A") == b"OK\r\n"
    assert b.cmd("?") == b"+4.250 mm\r\n"


def test_zero_with_noise_keeps_whole_steps() -> None:
    b = Bench(seed=2)
    b.needle_um = 1500.0
    b.cmd("Z")
    for i in range(10):
        b.gauge.advance_to(0.05 * (i + 1))
        assert abs(b.mm()) <= 0.005


def test_offset_is_the_mounting_error() -> None:
    b = Bench(noise_sd_um=0.0, offset_um=-12.0)
    b.needle_um = 2000.0
    assert b.cmd("?") == b"+1.988 mm\r\n"


def test_units() -> None:
    b = Bench(noise_sd_um=0.0)
    b.needle_um = 2540.0
    assert b.cmd("U") == b"mm\r\n"
    assert b.cmd("U IN") == b"OK\r\n"
    assert b.cmd("U") == b"in\r\n"
    assert b.cmd("?") == b"+0.10000 in\r\n"
    assert b.cmd("u mm") == b"OK\r\n"  # case-insensitive
    assert b.cmd("?") == b"+2.540 mm\r\n"


def test_identify() -> None:
    b = Bench(serial="DG42")
    assert b.cmd("I") == b"MESOSIM-DG DG42 1.0\r\n"


def test_out_of_range() -> None:
    b = Bench(noise_sd_um=0.0, range_mm=(0.0, 5.0))
    b.needle_um = 6000.0
    assert b.cmd("?") == b"ERR RANGE\r\n"
    assert b.cmd("Z") == b"ERR RANGE\r\n"
    b.needle_um = 4000.0
    assert b.cmd("?") == b"+4.000 mm\r\n"


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        ("X", b"ERR CMD\r\n"),
        ("  ", b"ERR CMD\r\n"),
        ("? 1", b"ERR PARAM\r\n"),
        ("U FT", b"ERR PARAM\r\n"),
        ("U MM IN", b"ERR PARAM\r\n"),
        ("?\x00", b"ERR LINE\r\n"),
        ("?" * 100, b"ERR LINE\r\n"),
    ],
)
def test_errors(line: str, reply: bytes) -> None:
    assert Bench().cmd(line) == reply


@pytest.mark.parametrize("end", [b"\r", b"\n", b"\r\n"])
def test_line_endings(end: bytes) -> None:
    b = Bench(noise_sd_um=0.0)
    assert b.cmd("?", end=end) == b"+0.000 mm\r\n"


def test_is_a_quiet_byte_device() -> None:
    b = Bench()
    assert b.gauge.next_wakeup() is None
    b.gauge.advance_to(5.0)
    b.gauge.advance_to(1.0)
    assert b.gauge.now == 5.0
    assert b.gauge.read() == b""
    with pytest.raises(ValueError):
        b.gauge.advance_to(float("inf"))


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.one_of(st.binary(max_size=40), st.sampled_from([b"?\r", b"Z\r\n", b"U IN\n"])),
            st.floats(min_value=0.0, max_value=1.0),
            st.floats(min_value=-5000.0, max_value=15_000.0),
        ),
        max_size=12,
    ),
    seed=st.integers(min_value=-(2**63), max_value=2**64),
)
def test_any_bytes_never_raise_and_replies_are_crlf_lines(
    steps: list[tuple[bytes, float, float]], seed: int
) -> None:
    needle = [0.0]
    gauge = DepthGauge(lambda: needle[0], seed=seed)
    out = bytearray()
    t = 0.0
    for data, dt, um in steps:
        needle[0] = um
        gauge.write(data)
        t += dt
        gauge.advance_to(t)
        out += gauge.read()
    if out:
        assert out.endswith(b"\r\n")
        for line in bytes(out).split(b"\r\n")[:-1]:
            assert line and b"\r" not in line and b"\n" not in line
