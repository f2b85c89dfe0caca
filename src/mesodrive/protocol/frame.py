"""Frames: header + payload + CRC-32, COBS-encoded, 0x00-delimited (PROTOCOL.md §3-4).

Decoding failures raise `FrameError` with a `FrameErrorKind`; the streaming deframer turns
them into counters, so a bad frame never reaches a caller as an exception.
"""

from __future__ import annotations

import enum
import struct
from typing import NamedTuple

from mesodrive.protocol.messages import MAX_PAYLOAD, PROTOCOL_VERSION
from mesodrive.protocol.wire import (
    CRC_RESIDUE,
    CobsDecodeError,
    cobs_decode,
    cobs_encode,
    crc32,
    crc_bytes,
)

HEADER = struct.Struct("<BBHHB")  # version, flags, seq, ack, msg_id
CRC = struct.Struct("<I")
HEADER_SIZE = HEADER.size  # 7
CRC_SIZE = CRC.size  # 4
MIN_FRAME = HEADER_SIZE + CRC_SIZE
MAX_FRAME = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE  # 251 bytes before COBS
# COBS adds one byte per 254 bytes (rounded up, at least one); plus the 0x00 delimiter.
MAX_ENCODED = MAX_FRAME + (MAX_FRAME + 253) // 254 + 1

FLAG_SEQ = 0x01  # sequenced: the receiver delivers it in order, exactly once
KNOWN_FLAGS = FLAG_SEQ
SEQ_MOD = 1 << 16


class FrameErrorKind(enum.Enum):
    BAD_COBS = "bad_cobs"
    TRUNCATED = "truncated"
    OVERSIZE = "oversize"
    BAD_CRC = "bad_crc"
    BAD_VERSION = "bad_version"
    # Undecodable (PROTOCOL.md §4): the frame passed CRC and version, its payload is no message.
    UNKNOWN_ID = "unknown_id"
    BAD_LENGTH = "bad_length"
    BAD_STRING = "bad_string"  # a strN field: invalid UTF-8, or non-zero after the padding


class FrameError(ValueError):
    def __init__(self, kind: FrameErrorKind, detail: str) -> None:
        self.kind = kind
        super().__init__(f"{kind.value}: {detail}")


class Frame(NamedTuple):
    """A decoded frame whose payload has not been interpreted yet."""

    flags: int
    seq: int
    ack: int
    msg_id: int
    payload: bytes

    @property
    def sequenced(self) -> bool:
        return bool(self.flags & FLAG_SEQ)


# Bound once: these run for every frame.
_pack_header = HEADER.pack
_unpack_header = HEADER.unpack_from
_crc32 = crc32
_cobs_encode = cobs_encode
_cobs_decode = cobs_decode
_new = tuple.__new__


def pack_frame(flags: int, seq: int, ack: int, msg_id: int, payload: bytes) -> bytes:
    """Raw frame bytes (before COBS): header, payload, CRC-32 of both."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds MAX_PAYLOAD {MAX_PAYLOAD}")
    body = _pack_header(PROTOCOL_VERSION, flags, seq, ack, msg_id) + payload
    return body + crc_bytes(_crc32(body))


def encode_frame(flags: int, seq: int, ack: int, msg_id: int, payload: bytes) -> bytes:
    """Wire bytes of one frame: COBS(raw frame) + 0x00."""
    return _cobs_encode(pack_frame(flags, seq, ack, msg_id, payload)) + b"\0"


def unpack_frame(raw: bytes) -> Frame:
    """Check length, CRC and version of raw (un-COBSed) frame bytes."""
    n = len(raw)
    if n < MIN_FRAME:
        raise FrameError(FrameErrorKind.TRUNCATED, f"{n} bytes < minimum {MIN_FRAME}")
    if n > MAX_FRAME:
        raise FrameError(FrameErrorKind.OVERSIZE, f"{n} bytes > maximum {MAX_FRAME}")
    if _crc32(raw) != CRC_RESIDUE:  # same as crc32(body) != the CRC field (wire.CRC_RESIDUE)
        crc = int.from_bytes(raw[-CRC_SIZE:], "little")
        raise FrameError(FrameErrorKind.BAD_CRC, f"CRC {crc:#010x} does not match")
    version, flags, seq, ack, msg_id = _unpack_header(raw)
    if version != PROTOCOL_VERSION:
        raise FrameError(FrameErrorKind.BAD_VERSION, f"version {version} != {PROTOCOL_VERSION}")
    return _new(Frame, (flags, seq, ack, msg_id, raw[HEADER_SIZE:-CRC_SIZE]))


def decode_frame(encoded: bytes) -> Frame:
    """Decode one frame's wire bytes (with or without the trailing 0x00)."""
    if encoded[-1:] == b"\0":
        encoded = encoded[:-1]
    if len(encoded) > MAX_ENCODED - 1:
        raise FrameError(FrameErrorKind.OVERSIZE, f"{len(encoded)} encoded bytes")
    try:
        raw = _cobs_decode(encoded)
    except CobsDecodeError as exc:
        raise FrameError(FrameErrorKind.BAD_COBS, str(exc)) from None
    return unpack_frame(raw)
