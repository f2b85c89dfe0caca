"""Link fault injection between a transport and the device (pymodbus's "manipulator" idea).

Faults act on whole frames: the byte stream is cut at each 0x00 delimiter and every frame
(delimiter included) independently may be

- dropped,
- duplicated (the copy follows the original at once),
- corrupted (one byte XORed with a random non-zero mask; the receiver's CRC or COBS check
  must catch it — a corrupted byte may even become 0x00 and cut the frame in two),
- delayed (held back 1 ms … `max_delay` and then delivered whole, so frames sent after it
  overtake it: bounded reordering),
- split (cut into 2–4 chunks with short pauses between them; like a stalled UART, later
  bytes queue behind the pause, so the stream itself is never interleaved).

Each direction has its own RNG seeded from (seed, direction), and draws the same number of
random values for every frame whatever happens to it, so a run is reproducible from the seed
and the frames sent. With every probability 0 a direction is a plain pass-through.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter, deque
from typing import Any, Protocol

from mesosim.transports.device import ByteDevice

FAULT_KINDS = ("drop", "duplicate", "corrupt", "delay", "split")


class LinkFaultsLike(Protocol):
    """The fields of `mesosim.config.LinkFaults` this module reads (probabilities 0…1)."""

    @property
    def drop(self) -> float: ...
    @property
    def duplicate(self) -> float: ...
    @property
    def corrupt(self) -> float: ...
    @property
    def delay(self) -> float: ...
    @property
    def split(self) -> float: ...


def faults_active(faults: LinkFaultsLike | None) -> bool:
    return faults is not None and any(getattr(faults, k) > 0 for k in FAULT_KINDS)


class FrameFaults:
    """One direction of a faulty link: bytes pushed in at time t come out (maybe) later.

    `push(data, now)` accepts bytes sent at `now`; `pull(now)` returns the bytes that have
    reached the far end by `now`; `next_due()` is when more will (None: nothing pending).
    Times must not go backwards.
    """

    def __init__(
        self,
        faults: LinkFaultsLike | None,
        rng: random.Random,
        *,
        max_delay: float = 0.050,
        split_gap: tuple[float, float] = (0.0002, 0.004),
    ) -> None:
        self.faults = faults
        self.passthrough = not faults_active(faults)
        self._rng = rng
        self._max_delay = max_delay
        self._split_gap = split_gap
        self._partial = bytearray()  # bytes of a frame whose delimiter has not arrived yet
        # Delayed frames wait here until their release time, then join the wire's tail.
        self._held: list[tuple[float, int, bytes]] = []
        self._order = itertools.count()
        # The wire: FIFO of (not before, bytes). The head blocks everything behind it.
        self._wire: deque[tuple[float, bytes]] = deque()
        self.stats: Counter[str] = Counter()

    def push(self, data: bytes, now: float) -> None:
        if not data:
            return
        self._release_held(now)
        if self.passthrough:
            self._wire.append((now, bytes(data)))
            return
        self._partial += data
        while True:
            end = self._partial.find(0)
            if end < 0:
                break
            frame = bytes(self._partial[: end + 1])
            del self._partial[: end + 1]
            self._frame(frame, now)

    def pull(self, now: float) -> bytes:
        self._release_held(now)
        out = bytearray()
        while self._wire and self._wire[0][0] <= now:
            out += self._wire.popleft()[1]
        return bytes(out)

    def next_due(self) -> float | None:
        times = []
        if self._wire:
            times.append(self._wire[0][0])
        if self._held:
            times.append(self._held[0][0])
        return min(times) if times else None

    @property
    def pending(self) -> int:
        """Bytes accepted but not yet delivered (held, on the wire, or an open frame)."""
        return (
            len(self._partial)
            + sum(len(d) for _, d in self._wire)
            + sum(len(d) for _, _, d in self._held)
        )

    # -- internals ---------------------------------------------------------------------------

    def _release_held(self, now: float) -> None:
        while self._held and self._held[0][0] <= now:
            due, _, frame = heapq.heappop(self._held)
            self._wire.append((due, frame))

    def _frame(self, frame: bytes, now: float) -> None:
        self.stats["frames"] += 1
        if frame == b"\0":  # a lone delimiter (flush) carries nothing to damage
            self._wire.append((now, frame))
            return
        f, r = self.faults, self._rng
        assert f is not None
        if r.random() < f.drop:
            self.stats["drop"] += 1
            return
        copies = 1
        if r.random() < f.duplicate:
            self.stats["duplicate"] += 1
            copies = 2
        for _ in range(copies):
            self._copy(frame, now)

    def _copy(self, frame: bytes, now: float) -> None:
        f, r = self.faults, self._rng
        assert f is not None
        # Fixed number of draws per copy, whatever is decided, keeps runs comparable.
        corrupt, pos, mask = r.random(), r.randrange(len(frame) - 1), r.randrange(1, 256)
        delay, hold = r.random(), r.uniform(0.001, self._max_delay)
        split, pieces = r.random(), r.randint(2, 4)
        cuts = sorted(r.randrange(1, len(frame)) for _ in range(pieces - 1))
        gaps = [r.uniform(*self._split_gap) for _ in range(pieces - 1)]
        if corrupt < f.corrupt:
            self.stats["corrupt"] += 1
            damaged = bytearray(frame)
            damaged[pos] ^= mask  # never the delimiter: the frame keeps its end
            frame = bytes(damaged)
        if split < f.split:
            self.stats["split"] += 1
            bounds = [0, *sorted(set(cuts)), len(frame)]
            chunks = [frame[a:b] for a, b in itertools.pairwise(bounds)]
        else:
            chunks, gaps = [frame], []
        if delay < f.delay:
            self.stats["delay"] += 1
            due = now + hold
            # Delayed frames are released whole; splitting them too would need the held
            # copy to stall the wire later, which adds nothing a test could observe.
            heapq.heappush(self._held, (due, next(self._order), frame))
            return
        t = now
        for i, chunk in enumerate(chunks):
            if i:
                t += gaps[i - 1]
            self._wire.append((t, chunk))


class LinkFaultManipulator:
    """A ByteDevice wrapper applying `LinkFaults` to each direction of the wrapped device.

    It steps the wrapped device through its own wake-ups so device output is timestamped
    when it is sent, and is itself a ByteDevice (its wake-ups include pending deliveries).
    Unknown attributes (`executed_log`, `press_trigger`, …) are those of the wrapped device.
    """

    def __init__(
        self,
        device: ByteDevice,
        host_to_device: LinkFaultsLike | None,
        device_to_host: LinkFaultsLike | None,
        *,
        seed: int = 0,
        max_delay: float = 0.050,
    ) -> None:
        self.device = device
        self.host_to_device = FrameFaults(
            host_to_device, random.Random(f"mesosim-link:{seed}:h2d"), max_delay=max_delay
        )
        self.device_to_host = FrameFaults(
            device_to_host, random.Random(f"mesosim-link:{seed}:d2h"), max_delay=max_delay
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.device, name)

    @property
    def now(self) -> float:
        return self.device.now

    def write(self, data: bytes) -> None:
        self.host_to_device.push(data, self.device.now)
        self._exchange()

    def read(self) -> bytes:
        return self.device_to_host.pull(self.device.now)

    def next_wakeup(self) -> float | None:
        times = [
            t
            for t in (
                self.device.next_wakeup(),
                self.host_to_device.next_due(),
                self.device_to_host.next_due(),
            )
            if t is not None
        ]
        return min(times) if times else None

    def advance_to(self, t: float) -> None:
        dev = self.device
        while True:
            self._exchange()
            nxt = [
                w
                for w in (dev.next_wakeup(), self.host_to_device.next_due())
                if w is not None and dev.now < w < t
            ]
            if not nxt:
                break
            dev.advance_to(min(nxt))
        if t > dev.now:
            dev.advance_to(t)
        self._exchange()

    def _exchange(self) -> None:
        """Deliver host bytes due now; collect what the device sent, stamped now."""
        dev = self.device
        data = self.host_to_device.pull(dev.now)
        if data:
            dev.write(data)
        out = dev.read()
        if out:
            self.device_to_host.push(out, dev.now)
