"""The link layer: deterministic unit tests and the exactly-once property under link faults."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesodrive.protocol import Deframer, Link, LinkConfig, LinkLost
from mesodrive.protocol.frame import decode_frame

MSG = 0x20


def _deliver(link: Link, wire: bytes, now: float) -> list[bytes]:
    out = []
    for frame in Deframer().feed(wire):
        got = link.on_frame(frame, now)
        if got is not None:
            out.append(got.payload)
    return out


def test_in_order_delivery_and_cumulative_ack() -> None:
    a, b = Link(), Link()
    for i in range(3):
        a.send(MSG, bytes([i]))
    wire = a.poll(0.0)
    assert len(wire) == 3
    got = [p for w in wire for p in _deliver(b, w, 0.001)]
    assert got == [b"\0", b"\1", b"\2"]
    acks = b.poll(0.001)
    assert len(acks) == 1 and decode_frame(acks[0]).ack == 3  # one pure ack covers all three
    _deliver(a, acks[0], 0.002)
    assert a.pending == 0 and a.next_deadline() is None


def test_duplicate_is_reacked_not_redelivered() -> None:
    a, b = Link(), Link()
    a.send(MSG, b"x")
    (wire,) = a.poll(0.0)
    assert _deliver(b, wire, 0.0) == [b"x"]
    b.poll(0.0)
    assert _deliver(b, wire, 0.1) == []  # the retransmission of an already-delivered frame
    assert b.stats.duplicates == 1
    (ack,) = b.poll(0.1)
    assert decode_frame(ack).ack == 1


def test_out_of_order_frame_is_dropped_and_go_back_n_recovers() -> None:
    a, b = Link(), Link()
    a.send(MSG, b"0")
    a.send(MSG, b"1")
    _first, second = a.poll(0.0)
    assert _deliver(b, second, 0.0) == []  # 0 was lost: 1 is early, not delivered
    assert b.stats.out_of_order == 1
    resent = a.poll(a.next_deadline() or 0)  # timer expiry resends everything in flight
    assert [decode_frame(w).seq for w in resent] == [0, 1]
    assert [p for w in resent for p in _deliver(b, w, 0.3)] == [b"0", b"1"]


def test_window_limits_frames_in_flight() -> None:
    a = Link(LinkConfig(window=4))
    for i in range(10):
        a.send(MSG, bytes([i]))
    assert len(a.poll(0.0)) == 4
    assert a.poll(0.01) == []


def test_rto_adapts_to_rtt_and_karn_ignores_retransmitted_frames() -> None:
    a, b = Link(), Link()
    for k in range(20):  # steady 10 ms round trips
        t = k * 0.1
        a.send(MSG, b"p")
        (w,) = a.poll(t)
        _deliver(b, w, t + 0.005)
        (ack,) = b.poll(t + 0.005)
        _deliver(a, ack, t + 0.010)
    assert a.stats.rtt_samples == 20
    assert a.config.rto_min <= a.rto < 0.05
    # a retransmitted frame's ack gives no sample
    a.send(MSG, b"q")
    a.poll(3.0)
    (again,) = a.poll(3.0 + a.rto)
    _deliver(b, again, 3.5)
    (ack,) = b.poll(3.5)
    _deliver(a, ack, 3.6)
    assert a.stats.rtt_samples == 20


def test_link_loss_after_max_retransmits_then_refuses_to_send() -> None:
    a = Link(LinkConfig(max_retransmits=3))
    a.send(MSG, b"x")
    a.poll(0.0)
    t = 0.0
    while not a.lost:
        deadline = a.next_deadline()
        assert deadline is not None and deadline > t
        t = deadline
        a.poll(t)
    assert a.stats.retransmitted == 3
    with pytest.raises(LinkLost):
        a.send(MSG, b"y")
    a.reset()
    a.send(MSG, b"y")
    assert decode_frame(a.poll(t)[0]).seq == 0


def test_stale_ack_is_ignored() -> None:
    a = Link()
    a.send(MSG, b"x")
    a.poll(0.0)
    stale = Link()
    stale._expected = 500  # an ack from some earlier numbering
    _deliver(a, stale.unsequenced(0x0B, b""), 0.01)
    assert a.pending == 1 and a.stats.stale_acks == 1


def test_sequence_numbers_wrap() -> None:
    a, b = Link(), Link()
    a._next_seq = b._expected = 0xFFFE
    for i in range(4):
        a.send(MSG, bytes([i]))
    got = [p for w in a.poll(0.0) for p in _deliver(b, w, 0.0)]
    assert got == [b"\0", b"\1", b"\2", b"\3"]
    _deliver(a, b.poll(0.0)[0], 0.001)
    assert a.pending == 0


# --- the exactly-once property ---------------------------------------------------------------

FATES = st.one_of(
    st.just(("ok", 0.0)),
    st.just(("drop", 0.0)),
    st.just(("dup", 0.0)),
    st.tuples(st.just("corrupt"), st.integers(0, 300).map(float)),
    st.tuples(st.just("delay"), st.floats(0.0, 0.4)),
)


@dataclass(order=True)
class _InTransit:
    at: float
    n: int
    wire: bytes = field(compare=False)
    to_b: bool = field(compare=False)


@given(
    n_a=st.integers(0, 40),
    n_b=st.integers(0, 15),
    fates=st.lists(FATES, max_size=60),
    latency=st.floats(0.0005, 0.05),
)
def test_exactly_once_in_order_or_link_lost(
    n_a: int, n_b: int, fates: list[tuple[str, float]], latency: float
) -> None:
    """Under any bounded pattern of drops, duplicates, corruption and reordering, each side
    receives the other's messages exactly once, in order — or reports the link lost — and
    never receives anything twice."""
    a, b = Link(), Link()
    da, db = Deframer(), Deframer()
    got_at_a: list[bytes] = []
    got_at_b: list[bytes] = []
    sent_a = [i.to_bytes(2, "little") for i in range(n_a)]
    sent_b = [(1000 + i).to_bytes(2, "little") for i in range(n_b)]
    for p in sent_a:
        a.send(MSG, p)
    for p in sent_b:
        b.send(MSG, p)
    transit: list[_InTransit] = []
    fate_iter = iter(fates)
    counter = 0

    def transmit(wires: list[bytes], now: float, to_b: bool) -> None:
        nonlocal counter
        for w in wires:
            kind, arg = next(fate_iter, ("ok", 0.0))
            copies = {"drop": 0, "dup": 2}.get(kind, 1)
            if kind == "corrupt":
                i = int(arg) % (len(w) - 1)
                w = w[:i] + bytes([w[i] ^ 0x41 or 1]) + w[i + 1 :]
            extra = arg if kind == "delay" else 0.0
            for _ in range(copies):
                counter += 1
                heapq.heappush(transit, _InTransit(now + latency + extra, counter, w, to_b))

    now = 0.0
    for _ in range(20_000):
        transmit(a.poll(now), now, True)
        transmit(b.poll(now), now, False)
        done = a.pending == 0 and b.pending == 0 and not transit
        if done or (a.lost or b.lost):
            break
        candidates = [t for t in (a.next_deadline(), b.next_deadline()) if t is not None]
        if transit:
            candidates.append(transit[0].at)
        if not candidates:
            break
        now = max(now, min(candidates))
        while transit and transit[0].at <= now:
            item = heapq.heappop(transit)
            link, deframer, sink = (b, db, got_at_b) if item.to_b else (a, da, got_at_a)
            for frame in deframer.feed(item.wire):
                delivered = link.on_frame(frame, now)
                if delivered is not None:
                    sink.append(delivered.payload)
    # Never twice, always in order: what arrived is a prefix of what was sent.
    assert got_at_b == sent_a[: len(got_at_b)]
    assert got_at_a == sent_b[: len(got_at_a)]
    if not (a.lost or b.lost):
        assert got_at_b == sent_a and got_at_a == sent_b


def test_a_lost_link_still_acknowledges_what_it_receives() -> None:
    a = Link(LinkConfig(max_retransmits=0))
    a.send(MSG, b"x")
    a.poll(0.0)
    a.poll(10.0)
    assert a.lost
    peer = Link()
    peer.send(MSG, b"y")
    (wire,) = peer.poll(10.0)
    assert _deliver(a, wire, 10.1) == [b"y"]
    (ack,) = a.poll(10.1)
    assert decode_frame(ack).ack == 1
