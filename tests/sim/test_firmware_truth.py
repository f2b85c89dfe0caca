"""`SimDevice.truth`: the one public, read-only way to read the simulated device's truth."""

from __future__ import annotations

from typing import Any

import pytest
from mesosim.firmware import BookEntry, DeviceTruth

from mesodrive.protocol.messages import (
    DeviceState,
    RejectReason,
    ShotRejected,
    ShotResult,
    ShotStatus,
    TriggerMode,
)


def test_truth_follows_a_shot_from_queue_to_book(armed: Any) -> None:
    h = armed
    truth = h.dev.truth
    assert isinstance(truth, DeviceTruth) and truth is h.dev.truth
    assert truth.executed is h.dev.executed_log and not truth.executed
    assert truth.state is DeviceState.ARMED and truth.session == h.session and truth.homed
    h.send(h.shot(0, trigger=TriggerMode.ON_TRIGGER))
    h.send(h.shot(1, trigger=TriggerMode.ON_TRIGGER))
    assert truth.queue_len == 2 and truth.executing is None
    entry = truth.book_entry(h.session, 0)
    assert entry == BookEntry(h.session, 0, ShotStatus.QUEUED, RejectReason.NONE, 0, None)
    h.dev.press_trigger()
    assert truth.executing == (h.session, 0) and truth.queue_len == 1
    assert truth.last_started == {h.session: 0}
    h.step(1.0)
    result = h.last(ShotResult)
    entry = truth.book_entry(h.session, 0)
    assert entry is not None and entry.status is ShotStatus.DONE and entry.result == result
    assert [(e.session, e.index) for e in truth.executed] == [(h.session, 0)]
    assert truth.book_size == 2 and truth.book_entry(h.session, 5) is None


def test_truth_of_rejections_link_and_clock(armed: Any) -> None:
    h = armed
    truth = h.dev.truth
    h.send(h.shot(0, volume_nl=300_000))
    assert h.last(ShotRejected).reason == RejectReason.VOLUME_OUT_OF_RANGE
    entry = truth.book_entry(h.session, 0)
    assert entry is not None and entry.status is ShotStatus.REJECTED
    assert entry.reason is RejectReason.VOLUME_OUT_OF_RANGE
    assert truth.clock is not None and truth.ticks_at(h.dev.now) == h.dev.device_ticks()
    assert not truth.link_lost and truth.dropped_seq == 0
    h.dev.lose_link()
    assert truth.link_lost and truth.state is DeviceState.FAULT  # armed: LINK_LOST
    assert truth.dropped_seq > 0  # the fault's state_event could not go out sequenced


def test_truth_while_the_power_is_off(armed: Any) -> None:
    h = armed
    truth = h.dev.truth
    h.send(h.shot(0, trigger=TriggerMode.ON_TRIGGER))
    h.dev.power_cycle()
    assert not h.dev.powered and truth.state is DeviceState.BOOT
    assert truth.queue_len == 0 and truth.book_size == 0 and truth.session == 0
    assert truth.clock is None and truth.ticks_at(h.dev.now) == h.dev.device_ticks()
    assert truth.book_entry(h.session, 0) is None and not truth.last_started


def test_truth_is_read_only(armed: Any) -> None:
    truth = armed.dev.truth
    with pytest.raises(AttributeError):
        truth.queue_len = 3
    with pytest.raises(AttributeError):
        truth.other = 1
    with pytest.raises(TypeError):
        truth.last_started[1] = 2
