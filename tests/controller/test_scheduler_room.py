"""The scheduler's room in device time: as configured in real time; time-warped, the same wall
time of room, as far as the device's queue and horizon take it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesodrive.controller.run_config import RunConfig
from mesodrive.controller.scheduler import _room

CONFIG = RunConfig()


def test_real_time_is_as_configured() -> None:
    assert _room(CONFIG, 0.1, 1.0, 32, 3.0) == (CONFIG.look_ahead_s, CONFIG.min_lead_s)


def test_ten_times_warp_keeps_more_wall_time_of_room() -> None:
    # 10 shots/s, the simulator's queue of 32 and horizon of 3 s: 80 % of the horizon.
    look_ahead, lead = _room(CONFIG, 0.1, 10.0, 32, 3.0)
    assert (look_ahead, lead) == (pytest.approx(2.4), pytest.approx(1.2))
    # 240 ms and 120 ms of wall time, where the configured 1 s and 0.25 s would be 100 and 25.


@given(period=st.floats(0.02, 5.0), speed=st.floats(1.0, 1000.0),
       queue_len=st.integers(2, 255), horizon=st.floats(0.5, 60.0))
def test_the_device_always_takes_what_is_queued(period: float, speed: float, queue_len: int,
                                                horizon: float) -> None:
    look_ahead, lead = _room(CONFIG, period, speed, queue_len, horizon)
    assert look_ahead >= CONFIG.look_ahead_s and lead >= CONFIG.min_lead_s  # never less room
    if look_ahead > CONFIG.look_ahead_s:  # more only within the device's horizon and queue
        assert look_ahead <= 0.8 * horizon
        assert look_ahead <= 0.9 * (queue_len - 1) * period
        assert look_ahead <= CONFIG.look_ahead_s * speed
    if lead > CONFIG.min_lead_s:
        assert lead <= look_ahead / 2 and lead <= CONFIG.min_lead_s * speed
