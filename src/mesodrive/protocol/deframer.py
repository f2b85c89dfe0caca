"""Streaming deframer: bytes in any chunking -> frames, skipping and counting garbage."""

from __future__ import annotations

from collections import Counter

from cobs import cobs

from mesodrive.protocol.frame import MAX_ENCODED, Frame, FrameError, FrameErrorKind, unpack_frame


class Deframer:
    """Feed it bytes as they arrive; it returns every complete, valid frame.

    A frame ends at each 0x00. Anything between delimiters that is not a valid frame (line
    noise, a partial frame after a resync, a bad CRC) is dropped and counted in `errors`;
    an overlong run without a delimiter is discarded as it grows so memory stays bounded.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._discarding = False  # inside an oversize run: drop bytes until the next 0x00
        self.errors: Counter[FrameErrorKind] = Counter()
        self.frames = 0

    def feed(self, data: bytes) -> list[Frame]:
        out: list[Frame] = []
        if not data:
            return out
        parts = data.split(b"\0")
        # Every part but the last is terminated by a delimiter.
        for i, part in enumerate(parts[:-1]):
            if i == 0 and self._buf:
                self._buf += part
                chunk = bytes(self._buf)
                self._buf.clear()
            else:
                chunk = part
            if self._discarding:
                self._discarding = False
                continue
            if chunk:
                self._decode(chunk, out)
        tail = parts[-1]
        if tail and not self._discarding:
            self._buf += tail
            if len(self._buf) > MAX_ENCODED - 1:
                self.errors[FrameErrorKind.OVERSIZE] += 1
                self._buf.clear()
                self._discarding = True
        return out

    def _decode(self, chunk: bytes, out: list[Frame]) -> None:
        if len(chunk) > MAX_ENCODED - 1:
            self.errors[FrameErrorKind.OVERSIZE] += 1
            return
        try:
            raw = cobs.decode(chunk)
            frame = unpack_frame(raw)
        except cobs.DecodeError:
            self.errors[FrameErrorKind.BAD_COBS] += 1
            return
        except FrameError as exc:
            self.errors[exc.kind] += 1
            return
        self.frames += 1
        out.append(frame)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())
