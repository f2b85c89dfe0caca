"""Byte-level primitives shared by every codec path: COBS (the `cobs` package's C code) and
CRC-32 (`zlib.crc32`, CRC-32/ISO-HDLC as PROTOCOL.md §4 defines it).

Imports nothing of mesodrive, so that the generated `messages.py` can use it too.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

from cobs import cobs

crc32 = zlib.crc32
crc_bytes: Callable[[int], bytes] = struct.Struct("<I").pack  # the CRC as sent: little-endian
cobs_encode: Callable[[bytes], bytes] = cobs.encode  # the cobs package ships no types
cobs_decode: Callable[[bytes], bytes] = cobs.decode
CobsDecodeError: type[Exception] = cobs.DecodeError

# CRC-32 of any data followed by its own CRC (little-endian) is this constant, and only then:
# for a fixed prefix, appending 4 bytes maps the CRC register one-to-one. So a raw frame's CRC
# is right exactly when crc32(raw) == CRC_RESIDUE, with no slicing of the frame.
CRC_RESIDUE = 0x2144DF1C
