"""Messages <-> frames: the one place a payload's bytes become a typed message."""

from __future__ import annotations

import struct

from mesodrive.protocol.frame import FLAG_SEQ, Frame, FrameError, FrameErrorKind, encode_frame
from mesodrive.protocol.message_base import Channel, Message
from mesodrive.protocol.messages import MESSAGES


def decode_message(frame: Frame) -> Message:
    """The typed message in a frame; FrameError for an unknown id or a wrong payload length."""
    cls = MESSAGES.get(frame.msg_id)
    if cls is None:
        raise FrameError(FrameErrorKind.UNKNOWN_ID, f"message id {frame.msg_id:#04x}")
    try:
        return cls.unpack(frame.payload)
    except struct.error:
        raise FrameError(
            FrameErrorKind.BAD_LENGTH,
            f"{cls.NAME} payload is {len(frame.payload)} bytes, expected {cls.STRUCT.size}",
        ) from None


def encode_message(msg: Message, seq: int = 0, ack: int = 0, *, check: bool = True) -> bytes:
    """Wire bytes of one message. `check` refuses out-of-range fields (RangeError)."""
    if check:
        msg.check()
    flags = FLAG_SEQ if msg.CHANNEL is Channel.SEQ else 0
    return encode_frame(flags, seq if flags else 0, ack, msg.MSG_ID, msg.pack())
