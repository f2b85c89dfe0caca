"""The e-stop's answer does not queue behind the reports that arrive with it (issue 13).

The device answers an e-stop with its fault and shot reports and then the status reply, in one
burst. Their handlers journal and update the ledger; the e-stop's caller must not wait for
them. A scripted transport hands the channel such a burst in one read, and the handler of the
report in front of the reply looks at whether the caller has been released yet.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from mesodrive.driver.channel import Channel
from mesodrive.driver.timebase import REAL_TIME
from mesodrive.driver.transports.base import Transport
from mesodrive.protocol.codec import encode_message
from mesodrive.protocol.message_base import Message
from mesodrive.protocol.messages import DeviceState, Fault, FaultNotice, StatusReply


class Burst(Transport):
    """Reads return whole prepared bursts, one per read; writes are kept."""

    url = "burst://"

    def __init__(self) -> None:
        self.bursts: queue.Queue[bytes] = queue.Queue()
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def read(self, max_bytes: int, timeout: float) -> bytes:
        try:
            return self.bursts.get(timeout=min(timeout, 0.05))
        except queue.Empty:
            return b""

    def close(self) -> None:
        pass


def message(cls: type[Message], **fields: Any) -> Message:
    values = {f.name: f.min for f in cls.FIELDS} | fields
    return cls(**values)


def burst_for(token: int) -> bytes:
    notice = message(FaultNotice, state=DeviceState.ESTOPPED, code=Fault.ESTOP)
    reply = message(StatusReply, token=token, state=DeviceState.ESTOPPED)
    return encode_message(notice) + encode_message(reply)


def released_before_the_report(urgent: bool) -> bool:
    transport = Burst()
    channel = Channel(transport, REAL_TIME)
    seen: list[bool] = []  # per report handled: had the caller been released by then?
    handled = threading.Event()
    token = channel.next_token()
    waiter = channel.expect(token, StatusReply, urgent=urgent)

    def on_notice(msg: Message, now: float) -> None:
        seen.append(waiter.wait(0))
        handled.set()

    channel.on(FaultNotice, on_notice)
    channel.start()
    try:
        transport.bursts.put(burst_for(token))
        assert waiter.wait(5), "the status reply never reached its waiter"
        assert handled.wait(5), "the fault notice was never handled"
    finally:
        channel.close()
    assert len(seen) == 1
    return seen[0]


def test_the_estop_answer_is_released_before_the_handlers_of_its_burst() -> None:
    assert released_before_the_report(urgent=True)


def test_ordinary_answers_keep_the_order_they_arrived_in() -> None:
    assert not released_before_the_report(urgent=False)
