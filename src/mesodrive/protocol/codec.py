"""Messages <-> frames: the one place a payload's bytes become a typed message.

The fast path is generated per message (`messages.py`): `encode_message` is one struct pack of
header + payload with the range checks inlined, and `decode_wire` one COBS decode, one CRC, one
struct unpack. Only when the fast decoder cannot accept a frame does the reference path
(`decode_frame` + `decode_message`) run, and it alone gives the verdict: both paths reach the
same verdicts in the order of PROTOCOL.md §3-4 by construction.
"""

from __future__ import annotations

import struct

from mesodrive.protocol.frame import Frame, FrameError, FrameErrorKind, decode_frame
from mesodrive.protocol.message_base import Message, StringFieldError
from mesodrive.protocol.messages import MESSAGES, PROTOCOL_VERSION, WIRE_DECODERS
from mesodrive.protocol.wire import CRC_RESIDUE, cobs_decode, crc32

_get_message = MESSAGES.get
_decoders = WIRE_DECODERS


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


def decode_wire(wire: bytes) -> tuple[int, int, int, Message]:
    """`(flags, seq, ack, message)` of one frame's wire bytes (with or without the trailing
    0x00): `decode_frame` and `decode_message` in one pass. FrameError exactly as they raise it.
    """
    try:
        raw = cobs_decode(wire[:-1] if wire[-1] == 0 else wire)
        # Exact length, known id and strict strings are checked by the message's decoder; a
        # raw frame of its exact size is within the §3 limits, so the checks' order holds.
        if crc32(raw) == CRC_RESIDUE and raw[0] == PROTOCOL_VERSION:
            return _decoders[raw[6]](raw)
    except Exception:  # noqa: BLE001, S110 - whatever it is, the reference path below names it
        pass
    frame = decode_frame(wire)  # raises the frame's FrameError, in §3 order
    return frame.flags, frame.seq, frame.ack, decode_message(frame)


def encode_message(msg: Message, seq: int = 0, ack: int = 0, *, check: bool = True) -> bytes:
    """Wire bytes of one message. `check` refuses out-of-range fields (RangeError)."""
    return msg._encode_wire(seq, ack, check)
