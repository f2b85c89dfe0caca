"""Deframer + Link + codec in one object: bytes in -> typed messages out, and back.

Both ends of the wire use it: the host driver and the simulated firmware. It owns no I/O and
no clock; the caller passes bytes and `now` in and writes whatever comes out.
"""

from __future__ import annotations

from typing import NamedTuple

from mesodrive.protocol.codec import decode_message
from mesodrive.protocol.deframer import Deframer
from mesodrive.protocol.frame import Frame, FrameError
from mesodrive.protocol.link import Link, LinkConfig
from mesodrive.protocol.message_base import Channel, Message


class Undecodable(NamedTuple):
    """A valid frame whose payload is not a known message (unknown id, wrong length, or a
    string field that is not valid UTF-8 / has junk after its padding).

    Sequenced ones were still accepted by the link (so the stream does not stall); the
    receiver answers them with an error reply.
    """

    frame: Frame
    error: FrameError


class Endpoint:
    def __init__(self, config: LinkConfig | None = None) -> None:
        self.link = Link(config or LinkConfig())
        self.deframer = Deframer()
        self.undecodable = 0

    def receive(self, data: bytes, now: float) -> list[Message | Undecodable]:
        """Every message delivered by these bytes, in order (sequenced ones exactly once)."""
        out: list[Message | Undecodable] = []
        for frame in self.deframer.feed(data):
            delivered = self.link.on_frame(frame, now)
            if delivered is None:
                continue
            try:
                out.append(decode_message(delivered))
            except FrameError as exc:
                self.undecodable += 1
                out.append(Undecodable(delivered, exc))
        return out

    def send(self, msg: Message, *, check: bool = True) -> bytes:
        """Queue a sequenced message (returns b"", it leaves on `poll`), or encode an
        unsequenced one now (returns its bytes). `check` refuses out-of-range fields."""
        if msg.CHANNEL is Channel.SEQ:
            if check:
                msg.check()
            self.link.send(msg.MSG_ID, msg.pack())
            return b""
        # The fused path of the message (checks included); it carries the link's current ack.
        wire = msg._encode_wire(0, self.link.expected, check)
        self.link.unsequenced_sent()
        return wire

    def poll(self, now: float) -> bytes:
        """Bytes due on the wire now (new and retransmitted sequenced frames, acks)."""
        return b"".join(self.link.poll(now))

    def reset(self) -> None:
        self.link.reset()
