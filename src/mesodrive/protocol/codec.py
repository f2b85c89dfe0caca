"""Messages <-> frames: the one place a payload's bytes become a typed message."""

from __future__ import annotations

import struct

from mesodrive.protocol.frame import (
    FLAG_SEQ,
    Frame,
    FrameError,
    FrameErrorKind,
    _cobs_encode,
    _crc32,
    _pack_header,
)
from mesodrive.protocol.message_base import Channel, Message, StringFieldError
from mesodrive.protocol.messages import MESSAGES, PROTOCOL_VERSION

# The fused path below builds header + payload + CRC in one go: it runs for every frame.
_get_message = MESSAGES.get
_SEQ = Channel.SEQ


def decode_message(frame: Frame) -> Message:
    """The typed message in a frame; FrameError for an unknown id, a wrong payload length or an
    invalid strN field (`unknown_id`, `bad_length`, `bad_string`, checked in that order)."""
    cls = _get_message(frame[3])  # msg_id
    if cls is None:
        raise FrameError(FrameErrorKind.UNKNOWN_ID, f"message id {frame.msg_id:#04x}")
    try:
        return cls.unpack(frame.payload)
    except struct.error:
        raise FrameError(
            FrameErrorKind.BAD_LENGTH,
            f"{cls.NAME} payload is {len(frame.payload)} bytes, expected {cls.STRUCT.size}",
        ) from None
    except StringFieldError as exc:
        raise FrameError(FrameErrorKind.BAD_STRING, str(exc)) from None


def encode_message(msg: Message, seq: int = 0, ack: int = 0, *, check: bool = True) -> bytes:
    """Wire bytes of one message. `check` refuses out-of-range fields (RangeError)."""
    if check:
        msg.check()
    if msg.CHANNEL is _SEQ:
        body = _pack_header(PROTOCOL_VERSION, FLAG_SEQ, seq, ack, msg.MSG_ID) + msg.pack()
    else:
        body = _pack_header(PROTOCOL_VERSION, 0, 0, ack, msg.MSG_ID) + msg.pack()
    return _cobs_encode(body + _crc32(body).to_bytes(4, "little")) + b"\0"
