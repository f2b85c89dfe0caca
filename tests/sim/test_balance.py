"""The simulated MT-SICS balance, driven line by line in simulated time."""

from __future__ import annotations

import re
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mesosim.instruments import Balance, z_factor_ul_per_mg
from mesosim.instruments.water import apparent_mass_g_per_nl, water_density_g_per_ml

WEIGHT_LINE = re.compile(rb"^(S|T|TI|TA) ([SDA]) (.{10}) g\r\n$")


class Script:
    """A scripted volume source plus helpers to talk to a balance."""

    def __init__(self, **kwargs: object) -> None:
        self.volume_nl = 0.0
        self.balance = Balance(lambda: self.volume_nl, **kwargs)  # type: ignore[arg-type]

    def cmd(self, line: str) -> bytes:
        self.balance.write(line.encode("latin-1") + b"\r\n")
        return self.balance.read()

    def dispense(self, nl: float) -> None:
        """Add liquid now (the balance samples its source when advanced)."""
        self.volume_nl += nl
        self.balance.advance_to(self.balance.now)

    def at(self, t: float) -> bytes:
        self.balance.advance_to(t)
        return self.balance.read()


def quiet(**kwargs: object) -> Script:
    """A noiseless, evaporation-free balance: exact numbers."""
    base: dict[str, object] = {"noise_sd_g": 0.0, "evaporation_ug_per_s": 0.0}
    base.update(kwargs)
    return Script(**base)


def value_of(reply: bytes) -> float:
    m = WEIGHT_LINE.match(reply)
    assert m, reply
    return float(m.group(3))


# ----------------------------------------------------------------------------- format
def test_weight_reply_is_right_aligned_in_ten_characters_with_five_decimals() -> None:
    s = quiet()
    assert s.cmd("SI") == b"S S   10.00000 g\r\n"
    assert s.cmd("T") == b"T S   10.00000 g\r\n"
    s.dispense(20_000.0)  # 20 µL of water at 20 °C
    s.at(5.0)
    expected = 20.0 / z_factor_ul_per_mg(20.0) / 1000.0  # grams
    assert s.cmd("S") == f"S S {expected:>10.5f} g\r\n".encode()
    assert s.cmd("S") == b"S S    0.01994 g\r\n"


def test_negative_values_carry_the_sign_before_the_first_digit() -> None:
    s = quiet()
    s.cmd("T")
    s.balance.remove_vessel()
    s.at(5.0)
    assert s.cmd("S") == b"S S  -10.00000 g\r\n"


def test_readability_rounding_and_configurable_digits() -> None:
    s = Script(seed=3)
    for i in range(20):
        s.at(0.1 * (i + 1))
        text = value_of(s.cmd("SI"))
        assert round(text, 5) == text
    coarse = quiet(readability_g=1e-4)
    assert coarse.cmd("SI") == b"S S    10.0000 g\r\n"


def test_rounding_is_to_the_nearest_digit() -> None:
    s = quiet(vessel_g=1.000014)
    assert s.cmd("SI") == b"S S    1.00001 g\r\n"
    s2 = quiet(vessel_g=1.000016)
    assert s2.cmd("SI") == b"S S    1.00002 g\r\n"


def test_no_negative_zero() -> None:
    s = quiet(vessel_g=-0.000001)
    assert s.cmd("SI") == b"S S    0.00000 g\r\n"


# -------------------------------------------------------------------------- settling
def test_unstable_after_a_change_then_stable() -> None:
    s = quiet()
    s.cmd("T")
    s.volume_nl = 10_000.0
    s.at(0.05)
    first = s.cmd("SI")
    assert first.startswith(b"S D ")
    assert value_of(first) < 0.009  # the display lags the new load
    s.at(1.4)
    assert s.cmd("SI").startswith(b"S D ")
    s.at(1.6)
    stable = s.cmd("SI")
    assert stable.startswith(b"S S ")
    assert value_of(stable) == pytest.approx(10.0 / z_factor_ul_per_mg(20.0) / 1000, abs=1e-5)


def test_a_big_step_settles_longer_than_a_small_one() -> None:
    s = quiet(vessel_g=None)
    s.balance.place_vessel(100.0)
    s.at(1.6)
    assert s.cmd("SI").startswith(b"S D ")  # 100 g is still creeping in
    s.at(3.0)
    assert s.cmd("SI") == b"S S  100.00000 g\r\n"


def test_sub_digit_changes_do_not_destabilise() -> None:
    s = quiet()
    s.volume_nl = 5.0  # 5 nL ≈ 5 µg: below one digit
    assert s.cmd("SI").startswith(b"S S ")


def test_deferred_s_answers_at_the_first_stable_update() -> None:
    s = quiet()
    s.cmd("T")
    s.volume_nl = 20_000.0
    s.at(0.01)
    assert s.cmd("S") == b""  # deferred
    assert s.balance.next_wakeup() == pytest.approx(0.1)
    t = 0.01
    reply = b""
    while not reply:
        wake = s.balance.next_wakeup()
        assert wake is not None
        t = wake
        reply = s.at(t)
    assert 1.5 <= t < 1.6 + 1e-9
    assert reply == b"S S    0.01994 g\r\n"
    assert s.balance.next_wakeup() is None


def test_s_times_out_with_s_i_when_it_never_stabilises() -> None:
    holder: list[Balance] = []
    balance = Balance(
        lambda: 1000.0 * holder[0].now if holder else 0.0,  # 1 µL/s into the vessel
        stability_timeout_s=3.0,
    )
    holder.append(balance)
    balance.advance_to(1.0)
    balance.write(b"S\r\n")
    balance.advance_to(3.95)
    assert balance.read() == b""
    balance.advance_to(4.05)
    assert balance.read() == b"S I\r\n"


def test_busy_while_deferred_and_reset_cancels() -> None:
    s = quiet()
    s.volume_nl = 20_000.0
    s.at(0.2)
    assert s.cmd("S") == b""
    assert s.cmd("SI") == b"S I\r\n"
    assert s.cmd("Z") == b"Z I\r\n"
    assert s.cmd("TA") == b"TA I\r\n"
    assert s.cmd("I4") == b"I4 I\r\n"
    assert s.cmd("@") == b'I4 A "B220000001"\r\n'
    assert s.balance.next_wakeup() is None
    assert s.at(10.0) == b""  # the deferred S was cancelled


# ----------------------------------------------------------------------- zero / tare
def test_zero_then_tare_arithmetic() -> None:
    s = quiet()
    assert s.cmd("Z") == b"Z A\r\n"
    assert s.cmd("SI") == b"S S    0.00000 g\r\n"
    s.balance.external_load_g = 5.0
    s.at(3.0)
    assert s.cmd("T") == b"T S    5.00000 g\r\n"
    assert s.cmd("TA") == b"TA A    5.00000 g\r\n"
    s.balance.external_load_g = 7.5
    s.at(6.0)
    assert s.cmd("S") == b"S S    2.50000 g\r\n"
    assert s.cmd("TAC") == b"TAC A\r\n"
    assert s.cmd("S") == b"S S    7.50000 g\r\n"
    assert s.cmd("TA 2.25 g") == b"TA A    2.25000 g\r\n"
    assert s.cmd("S") == b"S S    5.25000 g\r\n"
    assert s.cmd("TA 250 mg") == b"TA A    0.25000 g\r\n"
    assert s.cmd("Z") == b"Z A\r\n"  # zeroing clears the tare
    assert s.cmd("TA") == b"TA A    0.00000 g\r\n"
    assert s.cmd("S") == b"S S    0.00000 g\r\n"


def test_zero_waits_for_stability_and_zi_does_not() -> None:
    s = quiet()
    s.volume_nl = 20_000.0
    s.at(0.3)
    assert s.cmd("Z") == b""
    assert s.at(2.0) == b"Z A\r\n"
    s.volume_nl = 40_000.0
    s.at(2.1)
    assert s.cmd("ZI") == b"ZI D\r\n"
    s.at(9.0)
    assert s.cmd("ZI") == b"ZI S\r\n"
    assert s.cmd("SI") == b"S S    0.00000 g\r\n"


def test_tare_immediately_reports_dynamic_state() -> None:
    s = quiet()
    s.volume_nl = 20_000.0
    s.at(0.5)
    reply = s.cmd("TI")
    assert reply.startswith(b"TI D ")
    s.at(9.0)
    assert s.cmd("TI").startswith(b"TI S ")


def test_tare_with_a_pending_change_is_deferred() -> None:
    s = quiet()
    s.balance.external_load_g = 1.0
    assert s.cmd("T") == b""
    assert s.at(5.0) == b"T S   11.00000 g\r\n"


def test_zero_range_limits() -> None:
    s = quiet(zero_range_g=4.4)  # ±2 % of 220 g
    assert s.cmd("Z") == b"Z +\r\n"
    assert s.cmd("ZI") == b"ZI +\r\n"
    s.balance.remove_vessel()
    s.balance.external_load_g = -5.0
    s.at(5.0)
    assert s.cmd("Z") == b"Z -\r\n"


# ------------------------------------------------------------------ over / underload
def test_overload_and_underload() -> None:
    s = quiet()
    s.balance.external_load_g = 215.0
    s.at(5.0)
    assert s.cmd("S") == b"S +\r\n"
    assert s.cmd("SI") == b"S +\r\n"
    assert s.cmd("T") == b"T +\r\n"
    assert s.cmd("TI") == b"TI +\r\n"
    assert s.cmd("Z") == b"Z +\r\n"
    s.balance.external_load_g = -30.0  # the pan is being lifted
    s.at(10.0)
    assert s.cmd("S") == b"S -\r\n"
    assert s.cmd("SI") == b"S -\r\n"
    assert s.cmd("T") == b"T -\r\n"
    s.balance.external_load_g = 0.0
    s.at(15.0)
    assert s.cmd("S") == b"S S   10.00000 g\r\n"


def test_a_deferred_s_reports_overload_that_arrives_while_waiting() -> None:
    s = quiet()
    s.volume_nl = 20_000.0
    s.at(0.1)
    assert s.cmd("S") == b""
    s.balance.external_load_g = 300.0
    assert s.at(0.35) == b"S +\r\n"


# ----------------------------------------------------------------------- evaporation
def test_evaporation_is_measurable_over_an_evaporation_blank() -> None:
    s = Script(seed=11, evaporation_ug_per_s=1.5)
    s.cmd("T")
    times, masses = [], []
    for i in range(1, 31):
        t = 20.0 * i
        s.at(t)
        times.append(t)
        masses.append(value_of(s.cmd("S")))
    slope = statistics.linear_regression(times, masses).slope  # g/s
    assert slope * 1e6 == pytest.approx(-1.5, rel=0.1)


def test_evaporation_stops_with_no_vessel() -> None:
    s = quiet(evaporation_ug_per_s=2.0, vessel_g=None)
    s.at(1000.0)
    assert s.cmd("S") == b"S S    0.00000 g\r\n"


# ------------------------------------------------------------------------- noise
def test_stable_noise_has_the_configured_sd() -> None:
    s = Script(seed=5, evaporation_ug_per_s=0.0)
    s.cmd("T")
    values = []
    for i in range(400):
        s.at(0.1 * (i + 1))
        values.append(value_of(s.cmd("SI")))
    sd_mg = statistics.stdev(values) * 1000
    assert 0.016 < sd_mg < 0.024
    assert abs(statistics.mean(values)) < 0.00006  # the tare itself carries one noise draw


def test_same_tick_same_reading() -> None:
    s = Script(seed=5)
    s.at(3.21)
    assert s.cmd("SI") == s.cmd("SI")


def _run_script(seed: int) -> bytes:
    s = Script(seed=seed)
    out = bytearray()
    out += s.cmd("T")
    for i in range(30):
        s.volume_nl += 1000.0 if i % 10 == 0 else 0.0
        out += s.at(0.25 * (i + 1))
        out += s.cmd("SI" if i % 3 else "S")
    out += s.cmd("SIR")
    out += s.at(12.0)
    return bytes(out)


def test_deterministic_per_seed() -> None:
    assert _run_script(7) == _run_script(7)
    assert _run_script(7) != _run_script(8)


# ------------------------------------------------------------------------- SIR
def test_sir_streams_every_update_until_another_command() -> None:
    s = quiet()
    first = s.cmd("SIR")
    assert first == b"S S   10.00000 g\r\n"
    assert s.at(1.0).count(b"\r\n") == 10
    assert s.cmd("TA") == b"TA A    0.00000 g\r\n"
    assert s.balance.next_wakeup() is None
    assert s.at(5.0) == b""


def test_sir_shows_dynamic_then_stable() -> None:
    s = quiet()
    s.cmd("SIR")
    s.volume_nl = 10_000.0
    lines = s.at(3.0).splitlines()
    assert lines[0].startswith(b"S D ")
    assert lines[-1].startswith(b"S S ")


# --------------------------------------------------------------------- identity, errors
def test_identification_commands() -> None:
    s = quiet(serial="1234567890", model="XS205-SIM")
    assert s.cmd("I4") == b'I4 A "1234567890"\r\n'
    assert s.cmd("I2") == b'I2 A "XS205-SIM 220.00000 g"\r\n'
    assert s.cmd("I1").startswith(b'I1 A "01" ')
    assert s.cmd("I3").startswith(b'I3 A "')
    listing = s.cmd("I0").splitlines()
    assert listing[0] == b'I0 B 0 "@"'
    assert listing[-1].startswith(b"I0 A ")
    assert b'I0 B 1 "T"' in listing
    assert s.cmd("@") == b'I4 A "1234567890"\r\n'


def test_bytes_after_a_reset_line_are_the_next_command() -> None:
    s = quiet()
    s.balance.write(b"@\r\nS")
    s.balance.write(b"I\r\n")
    assert s.balance.read() == b'I4 A "B220000001"\r\nS S   10.00000 g\r\n'


def test_reset_clears_tare_but_not_zero() -> None:
    s = quiet()
    s.cmd("Z")
    s.balance.external_load_g = 1.0
    s.at(5.0)
    s.cmd("T")
    s.cmd("@")
    assert s.cmd("S") == b"S S    1.00000 g\r\n"


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        ("XYZ", b"ES\r\n"),
        ("s", b"ES\r\n"),  # commands are upper case
        ("   ", b"ES\r\n"),
        (" S", b"ES\r\n"),
        ("S 1", b"EL\r\n"),
        ("Z now", b"EL\r\n"),
        ("@ 1", b"EL\r\n"),
        ("TA 5", b"EL\r\n"),
        ("TA five g", b"EL\r\n"),
        ("TA 5 kg", b"EL\r\n"),
        ("TA nan g", b"EL\r\n"),
        ("TA 1e3 g", b"EL\r\n"),
        ("TA -1 g", b"EL\r\n"),
        ("TA 500 g", b"EL\r\n"),
        ("S\x01", b"ET\r\n"),
        ("S" * 200, b"ET\r\n"),
        ("S ", b"S S   10.00000 g\r\n"),  # trailing blanks are tolerated
    ],
)
def test_error_replies(line: str, reply: bytes) -> None:
    s = quiet()
    assert s.cmd(line) == reply


def test_empty_lines_are_ignored_and_bare_lf_accepted() -> None:
    s = quiet()
    s.balance.write(b"\r\n\n")
    assert s.balance.read() == b""
    s.balance.write(b"SI\n")
    assert s.balance.read() == b"S S   10.00000 g\r\n"


def test_a_line_split_across_writes() -> None:
    s = quiet()
    for chunk in (b"S", b"I\r", b"\n"):
        s.balance.write(chunk)
    assert s.balance.read() == b"S S   10.00000 g\r\n"


def test_overlong_line_then_recovery() -> None:
    s = quiet(max_line=16)
    s.balance.write(b"X" * 100 + b"\r\nSI\r\n")
    assert s.balance.read() == b"ET\r\nS S   10.00000 g\r\n"


def test_time_never_runs_backwards_and_must_be_finite() -> None:
    s = quiet()
    s.at(5.0)
    s.at(1.0)
    assert s.balance.now == 5.0
    with pytest.raises(ValueError):
        s.balance.advance_to(float("nan"))


def test_is_a_byte_device() -> None:
    balance = Balance()
    for name in ("now", "write", "advance_to", "read", "next_wakeup"):
        assert hasattr(balance, name)


# ----------------------------------------------------------------------------- water
@pytest.mark.parametrize(
    ("celsius", "z"),
    [(20, 1.0029), (21, 1.0031), (22, 1.0033), (23, 1.0035), (24, 1.0038), (25, 1.0040)],
)
def test_z_factors_match_iso_8655_table(celsius: float, z: float) -> None:
    assert round(z_factor_ul_per_mg(celsius), 4) == z


def test_water_density_at_20c() -> None:
    assert water_density_g_per_ml(20.0) == pytest.approx(0.998207, abs=2e-6)


def test_gravimetry_recovers_the_true_volume() -> None:
    for celsius in (18.0, 20.0, 24.5):
        grams = apparent_mass_g_per_nl(celsius) * 10_000.0  # 10 µL
        assert grams * 1000.0 * z_factor_ul_per_mg(celsius) == pytest.approx(10.0, rel=1e-12)


def test_temperature_changes_the_apparent_mass() -> None:
    cold = quiet(temperature_c=15.0)
    warm = quiet(temperature_c=30.0)
    for s in (cold, warm):
        s.cmd("T")
        s.dispense(100_000.0)
        s.at(5.0)
    assert value_of(cold.cmd("S")) > value_of(warm.cmd("S"))


# ------------------------------------------------------------------------ properties
def _assert_crlf_lines(out: bytes) -> None:
    if not out:
        return
    assert out.endswith(b"\r\n")
    for line in out.split(b"\r\n")[:-1]:
        assert b"\r" not in line and b"\n" not in line
        assert line  # no empty reply lines


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.one_of(
                st.binary(max_size=40),
                st.sampled_from(
                    [b"S\r\n", b"SI\r\n", b"SIR\r\n", b"Z\r\n", b"T\r\n", b"@\r\n", b"TA 1 g\r\n"]
                ),
            ),
            st.floats(min_value=0.0, max_value=3.0),
            st.floats(min_value=0.0, max_value=50_000.0),
        ),
        max_size=12,
    ),
    seed=st.integers(min_value=-(2**63), max_value=2**64),
)
def test_any_bytes_never_raise_and_replies_are_crlf_lines(
    steps: list[tuple[bytes, float, float]], seed: int
) -> None:
    volume = [0.0]
    balance = Balance(lambda: volume[0], seed=seed, max_line=24)
    out = bytearray()
    t = 0.0
    for data, dt, dv in steps:
        balance.write(data)
        volume[0] += dv
        t += dt
        balance.advance_to(t)
        out += balance.read()
    _assert_crlf_lines(bytes(out))
