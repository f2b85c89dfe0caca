"""A process that is the simulated device hands the interpreter lock over quickly, so a host
frame is stamped when it arrives, not when the runner lets go (issue 13: the e-stop's latch)."""

from __future__ import annotations

import sys

from mesosim.transports.runner import (
    DEVICE_PROCESS_SWITCH_INTERVAL,
    SWITCH_INTERVAL,
    dedicate_process_to_device,
)


def test_a_device_process_switches_within_its_interval_and_warp_scales_from_it() -> None:
    before = sys.getswitchinterval()
    try:
        dedicate_process_to_device()
        assert sys.getswitchinterval() <= DEVICE_PROCESS_SWITCH_INTERVAL
        SWITCH_INTERVAL.enter(10.0)  # a warped runner: never longer than the device's own
        assert sys.getswitchinterval() <= DEVICE_PROCESS_SWITCH_INTERVAL
        SWITCH_INTERVAL.leave(10.0)
        assert sys.getswitchinterval() <= DEVICE_PROCESS_SWITCH_INTERVAL
    finally:
        sys.setswitchinterval(before)
