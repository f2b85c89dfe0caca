"""The streaming deframer under arbitrary chunking and injected noise."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from mesodrive.protocol import Deframer, decode_message
from mesodrive.protocol.codec import encode_message
from mesodrive.protocol.frame import MAX_ENCODED, FrameErrorKind
from tests.protocol.strategies import any_message


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@given(msgs=st.lists(any_message, max_size=8), cuts=st.lists(st.integers(0, 10_000), max_size=30))
def test_any_chunking_yields_every_frame_once_in_order(msgs: list, cuts: list[int]) -> None:
    stream = b"".join(encode_message(m, i, i) for i, m in enumerate(msgs))
    d = Deframer()
    frames = [f for chunk in _chunks(stream, cuts) for f in d.feed(chunk)]
    assert [decode_message(f) for f in frames] == msgs
    assert d.error_count == 0


@given(
    msgs=st.lists(any_message, min_size=1, max_size=6),
    noise=st.lists(st.binary(min_size=1, max_size=40), max_size=6),
    cuts=st.lists(st.integers(0, 10_000), max_size=20),
)
def test_noise_between_frames_is_skipped_and_counted(msgs: list, noise: list[bytes], cuts: list[int]) -> None:
    # Noise terminated by a delimiter, then a valid frame: the frame must survive.
    parts = []
    for i, m in enumerate(msgs):
        if i < len(noise):
            parts.append(noise[i] + b"\0")
        parts.append(encode_message(m, i, 0))
    d = Deframer()
    frames = [f for chunk in _chunks(b"".join(parts), cuts) for f in d.feed(chunk)]
    decoded = [decode_message(f) for f in frames]
    # Noise may, rarely, itself be a valid frame; every real message must still arrive in order.
    it = iter(decoded)
    assert all(any(m == x for x in it) for m in msgs)
    assert d.frames == len(frames)


def test_overlong_garbage_is_discarded_with_bounded_memory() -> None:
    d = Deframer()
    for _ in range(100):
        assert d.feed(b"\x07" * 1000) == []
    assert len(d._buf) <= MAX_ENCODED
    good = encode_message(_status(), 1, 1)
    frames = d.feed(b"\0" + good)
    assert len(frames) == 1
    assert d.errors[FrameErrorKind.OVERSIZE] >= 1


def _status():  # type: ignore[no-untyped-def]
    from mesodrive.protocol.messages import StatusQuery

    return StatusQuery(token=5)
