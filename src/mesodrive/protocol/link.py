"""The reliable channel (PROTOCOL.md §5) as pure logic: no threads, no sleeps, time passed in.

One `Link` is one endpoint. Sequenced messages go out in order within a window, are
acknowledged cumulatively (every frame's `ack` is the next sequence number its sender expects)
and are retransmitted go-back-N when the oldest one times out. The receiver accepts only the
next expected sequence number: a duplicate is re-acknowledged and not delivered again, so a
lost ack can never make a command execute twice. Unsequenced frames pass straight through.

The retransmission timeout follows RFC 6298 (srtt + 4·rttvar, clamped, doubled on each
timeout), and Karn's rule: a frame that was retransmitted never yields an RTT sample.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from mesodrive.protocol.frame import FLAG_SEQ, SEQ_MOD, Frame, encode_frame

ACK_MSG_ID = 0x00


@dataclass(frozen=True)
class LinkConfig:
    window: int = 32  # frames in flight; far below half the 16-bit sequence space
    rto_initial: float = 0.2  # s, before any RTT sample
    rto_min: float = 0.03  # s; above scheduler jitter of a busy host
    rto_max: float = 1.0  # s
    max_retransmits: int = 8  # consecutive timeouts of the oldest frame before LINK LOST


class LinkLost(RuntimeError):
    """The peer stopped acknowledging; nothing more is sent until `reset()`."""


@dataclass
class LinkStats:
    sent: int = 0
    retransmitted: int = 0
    delivered: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    stale_acks: int = 0
    rtt_samples: int = 0


@dataclass
class _InFlight:
    seq: int
    msg_id: int
    payload: bytes
    sent_at: float
    retransmitted: bool = False


@dataclass
class Link:
    config: LinkConfig = field(default_factory=LinkConfig)

    def __post_init__(self) -> None:
        self.stats = LinkStats()
        self.reset()

    def reset(self) -> None:
        """Back to sequence 0 both ways, nothing in flight (link_sync, or a fresh boot)."""
        self._next_seq = 0
        self._inflight: deque[_InFlight] = deque()
        self._backlog: deque[tuple[int, bytes]] = deque()
        self._expected = 0
        self._ack_due = False
        self._deadline: float | None = None
        self._retries = 0
        self._rto = self.config.rto_initial
        self._srtt: float | None = None
        self._rttvar = 0.0
        self.lost = False

    # ----- sending -------------------------------------------------------------------------
    def send(self, msg_id: int, payload: bytes) -> None:
        """Queue a sequenced message; it goes out from `poll`."""
        if self.lost:
            raise LinkLost("link lost: reset before sending")
        self._backlog.append((msg_id, payload))

    def unsequenced(self, msg_id: int, payload: bytes) -> bytes:
        """Wire bytes of an unsequenced frame now; it carries (and so sends) the current ack."""
        self._ack_due = False
        return encode_frame(0, 0, self._expected, msg_id, payload)

    def unsequenced_sent(self) -> None:
        """The caller encoded an unsequenced frame itself, with `expected` as its ack, and is
        sending it now: that frame acknowledges everything received so far."""
        self._ack_due = False

    def poll(self, now: float) -> list[bytes]:
        """Frames to transmit now: retransmissions due, new frames the window allows, an ack."""
        if self.lost:
            return self._pure_ack()  # a lost link stops sequenced frames, never acks
        out: list[bytes] = []
        if self._deadline is not None and now >= self._deadline:
            self._on_timeout(now, out)
            if self.lost:
                return self._pure_ack()
        while self._backlog and len(self._inflight) < self.config.window:
            msg_id, payload = self._backlog.popleft()
            item = _InFlight(self._next_seq, msg_id, payload, now)
            self._next_seq = (self._next_seq + 1) % SEQ_MOD
            self._inflight.append(item)
            out.append(encode_frame(FLAG_SEQ, item.seq, self._expected, msg_id, payload))
            self.stats.sent += 1
            if self._deadline is None:
                self._deadline = now + self._rto
        if not out:
            return self._pure_ack()
        self._ack_due = False
        return out

    def _pure_ack(self) -> list[bytes]:
        if not self._ack_due:
            return []
        self._ack_due = False
        return [encode_frame(0, 0, self._expected, ACK_MSG_ID, b"")]

    @property
    def expected(self) -> int:
        """The next sequence number this side expects (the `ack` value it sends)."""
        return self._expected

    def next_deadline(self) -> float | None:
        """When `poll` next has work without new input (None: only on input or send)."""
        return None if self.lost else self._deadline

    @property
    def pending(self) -> int:
        """Sequenced messages not yet acknowledged (in flight or waiting for the window)."""
        return len(self._inflight) + len(self._backlog)

    @property
    def ack_due(self) -> bool:
        return self._ack_due

    @property
    def rto(self) -> float:
        return self._rto

    def _on_timeout(self, now: float, out: list[bytes]) -> None:
        self._retries += 1
        if self._retries > self.config.max_retransmits:
            self.lost = True
            self._deadline = None
            return
        self._rto = min(self._rto * 2, self.config.rto_max)
        for item in self._inflight:  # go-back-N: everything from the oldest unacked frame
            item.retransmitted = True
            item.sent_at = now
            out.append(encode_frame(FLAG_SEQ, item.seq, self._expected, item.msg_id, item.payload))
            self.stats.retransmitted += 1
        self._deadline = now + self._rto

    # ----- receiving -----------------------------------------------------------------------
    def on_frame(self, frame: Frame, now: float) -> Frame | None:
        """Take one valid frame from the peer; return it if it is to be delivered upward."""
        self._on_ack(frame.ack, now)
        if not frame.flags & FLAG_SEQ:
            return None if frame.msg_id == ACK_MSG_ID else frame
        self._ack_due = True  # every sequenced frame is (re-)acknowledged
        if frame.seq == self._expected:
            self._expected = (self._expected + 1) % SEQ_MOD
            self.stats.delivered += 1
            return frame
        behind = (self._expected - frame.seq) % SEQ_MOD
        if 0 < behind <= SEQ_MOD // 2:
            self.stats.duplicates += 1
        else:
            self.stats.out_of_order += 1
        return None

    def _on_ack(self, ack: int, now: float) -> None:
        if not self._inflight:
            return
        base = self._inflight[0].seq
        advance = (ack - base) % SEQ_MOD
        if advance == 0:
            return
        if advance > len(self._inflight):
            self.stats.stale_acks += 1  # from before a reset, or corrupted into range: ignore
            return
        newest: _InFlight | None = None
        for _ in range(advance):
            newest = self._inflight.popleft()
        assert newest is not None
        if not newest.retransmitted:  # Karn's rule
            self._sample_rtt(now - newest.sent_at)
        self._retries = 0
        self._deadline = now + self._rto if self._inflight else None

    def _sample_rtt(self, rtt: float) -> None:
        self.stats.rtt_samples += 1
        if self._srtt is None:
            self._srtt, self._rttvar = rtt, rtt / 2
        else:
            self._rttvar = 0.75 * self._rttvar + 0.25 * abs(self._srtt - rtt)
            self._srtt = 0.875 * self._srtt + 0.125 * rtt
        cfg = self.config
        self._rto = min(max(self._srtt + 4 * self._rttvar, cfg.rto_min), cfg.rto_max)
