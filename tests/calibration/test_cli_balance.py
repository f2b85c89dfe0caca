"""`mesodrive calibrate balance` end to end against the simulated balance on a real pty, and
against far ends that stay silent or answer garbage: the right words and exit code, no
traceback."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from mesodrive.cli import main
from tests.calibration.conftest import FakeBalanceDevice, ServedBalance, serve_balance


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["calibrate", "balance", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture
def vessel_on_pan() -> Iterator[ServedBalance]:
    served = serve_balance("pty", vessel_g=10.0)
    try:
        yield served
    finally:
        served.server.close()


def test_a_working_balance(capsys: pytest.CaptureFixture[str], vessel_on_pan: ServedBalance) -> None:
    code, out, err = run_cli(capsys, "--balance", vessel_on_pan.url)
    assert code == 0, err
    assert f"balance: MESOSIM-B220 220.00000 g (serial B220000001) on {vessel_on_pan.url}" in out
    assert "zeroed" in out
    weight_line = next(line for line in out.splitlines() if line.startswith("stable weight:"))
    value = float(weight_line.split()[2])
    assert abs(value) < 0.2  # zeroed with the vessel on: noise only
    assert weight_line.endswith("mg (readability 0.01 mg)")
    assert out.rstrip().endswith("balance OK")


def test_overload(capsys: pytest.CaptureFixture[str], vessel_on_pan: ServedBalance) -> None:
    vessel_on_pan.hands(lambda b: setattr(b, "external_load_g", 500.0))
    code, _out, err = run_cli(capsys, "--balance", vessel_on_pan.url)
    assert code == 1
    assert "overload: the load is above the weighing range" in err


def test_never_settles(capsys: pytest.CaptureFixture[str]) -> None:
    counter = itertools.count()
    served = serve_balance("pty", source=lambda: next(counter) * 5000.0, vessel_g=10.0,
                           stability_timeout_s=1.0)
    try:
        code, _out, err = run_cli(capsys, "--balance", served.url)
    finally:
        served.server.close()
    assert code == 1
    assert "never became stable" in err and "draught" in err


def test_no_answer(capsys: pytest.CaptureFixture[str],
                   fake_balance: Callable[[Callable[[bytes], bytes]], FakeBalanceDevice]) -> None:
    device = fake_balance(lambda command: b"")
    code, _out, err = run_cli(capsys, "--balance", device.path)
    assert code == 3
    assert "@: no answer within 2 s" in err
    assert "hint: check that the balance is on" in err


def test_wrong_baud_rate(capsys: pytest.CaptureFixture[str],
                         fake_balance: Callable[[Callable[[bytes], bytes]], FakeBalanceDevice]) -> None:
    device = fake_balance(lambda command: b"\x86\xf8\x1e\x98\xe0\r\n")
    code, _out, err = run_cli(capsys, "--balance", device.path, "--baud", "19200")
    assert code == 3
    assert "not an MT-SICS reply" in err and "baud rate" in err


def test_no_such_port(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_cli(capsys, "--balance", "/dev/no-such-balance")
    assert code == 3
    assert "cannot open '/dev/no-such-balance'" in err


def test_as_a_process_over_the_pty(vessel_on_pan: ServedBalance) -> None:
    vessel_on_pan.hands(lambda b: setattr(b, "external_load_g", -50.0))  # pan lifted
    result = subprocess.run(
        [sys.executable, "-m", "mesodrive", "calibrate", "balance", "--balance", vessel_on_pan.url],
        check=False, capture_output=True, text=True, timeout=60, env={**os.environ, "MESODRIVE_DEBUG": ""},
    )
    assert result.returncode == 1
    assert "underload" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
