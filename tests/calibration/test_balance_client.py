"""The MT-SICS client against the simulator's balance over a real pty and over TCP, and
against scripted and misbehaving far ends for the replies the simulator never gives."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import pytest

from mesodrive.calibration.balance import MtSicsBalance
from mesodrive.calibration.errors import (
    BalanceBusy,
    BalanceGarbled,
    BalanceLinkError,
    BalanceLogicalError,
    BalanceOverload,
    BalanceSyntaxError,
    BalanceTimeout,
    BalanceTransmissionError,
    BalanceUnderload,
    BalanceUnstable,
    UnsupportedUnit,
)
from tests.calibration.conftest import FakeBalanceDevice, ScriptedPort, ServedBalance, serve_balance


def test_identify_zero_and_weigh(served_balance: ServedBalance) -> None:
    with MtSicsBalance.open(served_balance.url) as balance:
        assert balance.reset() == "B220000001"
        ident = balance.identify()
        assert ident.serial_number == "B220000001"
        assert ident.model.startswith("MESOSIM-B220")
        balance.zero()
        served_balance.hands(lambda b: setattr(b, "external_load_g", 5.0))
        weight = balance.weigh()
        assert weight.stable
        assert weight.readability_mg == pytest.approx(0.01)
        assert weight.mass_mg == pytest.approx(5000.0, abs=0.2)  # noise sd 0.02 mg
        tare = balance.tare()
        assert tare.mass_mg == pytest.approx(5000.0, abs=0.2)
        assert abs(balance.weigh().mass_mg) < 0.2
        balance.zero(immediately=True)
        assert balance.weigh_immediately().mass_mg == pytest.approx(0.0, abs=0.2)


def test_immediate_weight_reports_dynamic_after_a_change(served_balance: ServedBalance) -> None:
    with MtSicsBalance.open(served_balance.url) as balance:
        served_balance.hands(lambda b: setattr(b, "external_load_g", 20.0))
        assert not balance.weigh_immediately().stable


@pytest.mark.parametrize(("load_g", "error"), [(300.0, BalanceOverload), (-50.0, BalanceUnderload)])
def test_over_and_underload_are_typed(
    served_balance: ServedBalance, load_g: float, error: type[Exception]
) -> None:
    served_balance.hands(lambda b: setattr(b, "external_load_g", load_g))
    with MtSicsBalance.open(served_balance.url) as balance, pytest.raises(error):
        balance.weigh()


def test_a_weight_that_never_settles_is_unstable_within_a_bound() -> None:
    counter = itertools.count()
    # Every sample adds 5 µL to the vessel: the reading never rests.
    served = serve_balance("pty", source=lambda: next(counter) * 5000.0, vessel_g=10.0,
                           stability_timeout_s=1.0)
    try:
        with MtSicsBalance.open(served.url, busy_retries=1, busy_delay_s=0.05) as balance:
            t0 = time.monotonic()
            with pytest.raises(BalanceUnstable, match="never became stable"):
                balance.weigh()
            assert time.monotonic() - t0 < 5.0  # 2 × the balance's own 1 s (time-warped ×4)
    finally:
        served.server.close()


def test_silence_is_a_timeout_not_a_hang(
    fake_balance: Callable[[Callable[[bytes], bytes]], FakeBalanceDevice],
) -> None:
    device = fake_balance(lambda command: b"")
    with MtSicsBalance.open(device.path, reply_timeout_s=0.3) as balance:
        t0 = time.monotonic()
        with pytest.raises(BalanceTimeout, match="no answer within 0.3 s"):
            balance.serial_number()
        assert time.monotonic() - t0 < 1.0


def test_wrong_baud_rate_garbage_is_garbled(
    fake_balance: Callable[[Callable[[bytes], bytes]], FakeBalanceDevice],
) -> None:
    device = fake_balance(lambda command: b"\xf8\x80\x9e\xe6\x00\xfe\r\n")
    with MtSicsBalance.open(device.path) as balance, pytest.raises(BalanceGarbled):
        balance.serial_number()


def test_endless_bytes_without_a_line_end_are_garbled_not_a_hang(
    fake_balance: Callable[[Callable[[bytes], bytes]], FakeBalanceDevice],
) -> None:
    device = fake_balance(lambda command: b"\xf8" * 600)
    with MtSicsBalance.open(device.path) as balance, pytest.raises(BalanceGarbled):
        balance.serial_number()


def test_a_port_that_does_not_exist_is_a_link_error() -> None:
    with pytest.raises(BalanceLinkError, match="cannot open"):
        MtSicsBalance.open("/dev/does-not-exist-42")


@pytest.mark.parametrize(
    ("code", "error"),
    [(b"ES", BalanceSyntaxError), (b"ET", BalanceTransmissionError), (b"EL", BalanceLogicalError),
     (b"S L", BalanceLogicalError)],
)
def test_error_replies_are_typed(code: bytes, error: type[Exception]) -> None:
    balance = MtSicsBalance(ScriptedPort(lambda command: code + b"\r\n"))
    with pytest.raises(error):
        balance.weigh()


def test_busy_is_retried_a_bounded_number_of_times() -> None:
    replies = iter([b"S I\r\n", b"S I\r\n", b"S S      1.00000 g\r\n"])
    port = ScriptedPort(lambda command: next(replies))
    balance = MtSicsBalance(port, busy_retries=2, busy_delay_s=0.0)
    assert balance.weigh().mass_mg == 1000.0
    assert len(port.written) == 3


def test_busy_forever_gives_up() -> None:
    port = ScriptedPort(lambda command: b"S I\r\n")
    balance = MtSicsBalance(port, busy_retries=2, busy_delay_s=0.0)
    with pytest.raises(BalanceBusy, match="3 tries") as info:
        balance.weigh_immediately()
    assert not isinstance(info.value, BalanceUnstable)  # SI never waits for stability
    assert len(port.written) == 3


def test_a_late_reply_to_another_command_is_skipped() -> None:
    port = ScriptedPort(lambda command: b"Z A\r\nS S    0.02013 g\r\n")
    assert MtSicsBalance(port).weigh().mass_mg == pytest.approx(20.13)


@pytest.mark.parametrize("end", [b"\r\n", b"\n", b"\r"])
def test_any_line_end(end: bytes) -> None:
    port = ScriptedPort(lambda command: b'I4 A "0123456789"' + end)
    assert MtSicsBalance(port).serial_number() == "0123456789"


def test_milligram_balances_are_read_in_milligrams() -> None:
    port = ScriptedPort(lambda command: b"S S   20.134 MG\r\n")
    weight = MtSicsBalance(port).weigh()
    assert (weight.mass_mg, weight.readability_mg) == (pytest.approx(20.134), pytest.approx(0.001))


def test_an_unknown_unit_is_refused() -> None:
    port = ScriptedPort(lambda command: b"S S   1.00000 oz\r\n")
    with pytest.raises(UnsupportedUnit):
        MtSicsBalance(port).weigh()
