"""The depth-gauge client: readings in mm or inches come out in mm, error replies are typed,
and against the simulator's gauge it reads the needle where it truly is."""

from __future__ import annotations

import pytest
from mesosim.instruments import DepthGauge
from mesosim.transports.pty_server import PtyServer

from mesodrive.calibration.errors import GaugeGarbled, GaugeOutOfRange, GaugeRefused, GaugeTimeout
from mesodrive.calibration.gauge import DepthGaugeClient, parse_reading
from tests.calibration.conftest import ScriptedPort


@pytest.mark.parametrize(("line", "mm", "resolution"), [
    (b"+1.234 mm\r\n", 1.234, 0.001), (b"-0.050 MM", -0.05, 0.001),
    (b"+0.04858 in\r\n", 0.04858 * 25.4, 0.00001 * 25.4), (b"- 2.5 mm", -2.5, 0.1),
])
def test_readings_are_millimetres(line: bytes, mm: float, resolution: float) -> None:
    reading = parse_reading(line)
    assert reading.value_mm == pytest.approx(mm)
    assert reading.resolution_mm == pytest.approx(resolution)


@pytest.mark.parametrize("line", [b"OK", b"1.2 cm", b"\xff\xfe", b"mm"])
def test_not_a_reading(line: bytes) -> None:
    with pytest.raises(GaugeGarbled):
        parse_reading(line)


@pytest.mark.parametrize(("reply", "error"), [(b"ERR RANGE\r\n", GaugeOutOfRange),
                                              (b"ERR CMD\r\n", GaugeRefused),
                                              (b"ERR LINE\r\n", GaugeRefused)])
def test_error_replies(reply: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        DepthGaugeClient(ScriptedPort(lambda command: reply)).read()


def test_silence_is_a_timeout() -> None:
    gauge = DepthGaugeClient(ScriptedPort(lambda command: b""), reply_timeout_s=0.2)
    with pytest.raises(GaugeTimeout, match="depth gauge"):
        gauge.read()


def test_against_the_simulated_gauge_on_a_pty() -> None:
    server = PtyServer(DepthGauge(lambda: 2345.0, seed=3)).start()
    try:
        with DepthGaugeClient.open(server.path) as gauge:
            ident = gauge.identify()
            assert (ident.model, ident.serial_number) == ("MESOSIM-DG", "DG0000001")
            gauge.millimetres()
            gauge.absolute()
            reading = gauge.read()
            assert reading.value_mm == pytest.approx(2.345, abs=0.005)  # 1 µm noise
            assert reading.resolution_mm == pytest.approx(0.001)
    finally:
        server.close()
