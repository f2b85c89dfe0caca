"""Transport plumbing against a tiny scripted ByteDevice: runners, link faults, the pipe, the
pyusb backend. End-to-end tests with the real simulated firmware are in
test_transports_e2e.py."""

from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import dataclass

import pytest
from mesosim.transports import (
    ByteDevice,
    FrameFaults,
    LinkFaultManipulator,
    PortClosed,
    RealtimePort,
    RealtimeRunner,
    SimulatorError,
    WarpPort,
    WarpRunner,
    inner_device,
    open_pipe,
)
from mesosim.transports.shotlog import ShotLogWriter, to_jsonable

from mesodrive.protocol import Deframer, encode_frame


class EchoDevice:
    """Echoes every write back `latency` simulated seconds later; logs what it executed."""

    def __init__(self, latency: float = 0.001) -> None:
        self.now = 0.0
        self.latency = latency
        self._pending: list[tuple[float, bytes]] = []
        self._out = bytearray()
        self.received = bytearray()
        self.executed_log: list[Shot] = []
        self.advance_calls = 0
        self.fail_on: bytes | None = None

    def write(self, data: bytes) -> None:
        if self.fail_on is not None and self.fail_on in data:
            raise RuntimeError("scripted device failure")
        self.received += data
        self._pending.append((self.now + self.latency, bytes(data)))

    def advance_to(self, t: float) -> None:
        assert t >= self.now, (t, self.now)
        self.advance_calls += 1
        due = [p for p in self._pending if p[0] <= t]
        self._pending = [p for p in self._pending if p[0] > t]
        for _, data in due:
            self._out += data
            self.executed_log.append(Shot(len(self.executed_log), data.hex()))
        self.now = t

    def read(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def next_wakeup(self) -> float | None:
        return min((p[0] for p in self._pending), default=None)


@dataclass(frozen=True)
class Shot:
    index: int
    data: str


@dataclass(frozen=True)
class Faults:
    drop: float = 0.0
    duplicate: float = 0.0
    corrupt: float = 0.0
    delay: float = 0.0
    split: float = 0.0


def frames(n: int, start: int = 0) -> list[bytes]:
    """n distinct valid frames (unsequenced acks whose seq field numbers them)."""
    return [encode_frame(0, 0, (start + i) & 0xFFFF, 0x07, bytes([i & 0xFF, 0])) for i in
            range(n)]  # fmt: skip


def run_faults(
    faults: Faults, seed: int, n: int = 2000, spacing: float = 0.002
) -> list[tuple[float, bytes]]:
    """Push n frames `spacing` apart through one direction; every pull as (time, bytes)."""
    ff = FrameFaults(faults, random.Random(seed))
    out: list[tuple[float, bytes]] = []
    t = 0.0
    for frame in frames(n):
        ff.push(frame, t)
        data = ff.pull(t)
        if data:
            out.append((t, data))
        while (due := ff.next_due()) is not None and due < t + spacing:
            t = max(t, due)
            data = ff.pull(t)
            if data:
                out.append((t, data))
        t += spacing
    while (due := ff.next_due()) is not None:
        t = max(t, due)
        out.append((t, ff.pull(t)))
    return out


def delivered(out: list[tuple[float, bytes]]) -> tuple[list[int], Deframer]:
    d = Deframer()
    acks = [f.ack for f in d.feed(b"".join(data for _, data in out))]
    return acks, d


# -- the fake device satisfies the protocol ---------------------------------------------------


def test_echo_device_is_a_byte_device() -> None:
    assert isinstance(EchoDevice(), ByteDevice)


# -- WarpRunner -------------------------------------------------------------------------------


def test_warp_runner_moves_time_only_when_asked() -> None:
    dev = EchoDevice(latency=0.010)
    runner = WarpRunner(dev)
    runner.write(b"hello\0")
    assert runner.run_until(0.005) == b""
    assert dev.now == 0.005
    assert runner.run_until(0.020) == b"hello\0"
    assert dev.now == 0.020


def test_warp_runner_step_stops_at_the_next_event() -> None:
    dev = EchoDevice(latency=0.003)
    runner = WarpRunner(dev)
    runner.write(b"a\0")
    assert runner.step() == b"a\0"
    assert dev.now == pytest.approx(0.003)
    # Nothing scheduled: step without a limit does not move time.
    assert runner.step() == b""
    assert dev.now == pytest.approx(0.003)
    assert runner.run_until_output(limit=1.0) == b""
    assert dev.now == pytest.approx(1.0)


# -- RealtimeRunner ---------------------------------------------------------------------------


class Sink:
    def __init__(self) -> None:
        self.data = bytearray()
        self.cond = threading.Condition()
        self.times: list[float] = []

    def __call__(self, data: bytes) -> None:
        with self.cond:
            self.data += data
            self.times.append(time.monotonic())
            self.cond.notify_all()

    def wait_for(self, n: int, timeout: float = 5.0) -> bytes:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.data) >= n, timeout), bytes(self.data)
            return bytes(self.data)


def test_realtime_runner_follows_wall_time_and_never_delivers_early() -> None:
    dev = EchoDevice(latency=0.050)
    sink = Sink()
    runner = RealtimeRunner(dev, sink).start()
    try:
        t0 = time.monotonic()
        runner.write(b"ping\0")
        assert sink.wait_for(5) == b"ping\0"
        # The echo is due 50 ms of simulated time after the write: never earlier in wall time.
        assert sink.times[0] - t0 >= 0.050 - 0.002
        sim_now = runner.call(lambda d: d.now)
        assert sim_now == pytest.approx(runner.sim_time(), abs=0.5)
        assert sim_now >= 0.050
    finally:
        runner.stop()
    assert not runner.running


def test_realtime_runner_idles_without_burning_cpu() -> None:
    dev = EchoDevice()
    runner = RealtimeRunner(dev, Sink()).start()
    try:
        runner.call(lambda d: None)
        calls_before = dev.advance_calls
        cpu0 = time.process_time()
        done = threading.Event()
        done.wait(0.3)  # an idle period to measure, not an assertion on timing
        cpu = time.process_time() - cpu0
        # Idle: the loop blocks (bounded re-checks every 0.5 s), it does not poll.
        assert dev.advance_calls - calls_before <= 2
        assert cpu < 0.1
    finally:
        runner.stop()


def test_realtime_runner_call_runs_on_the_runner_thread() -> None:
    runner = RealtimeRunner(EchoDevice(), Sink(), name="sim-thread").start()
    try:
        assert runner.call(lambda d: threading.current_thread().name) == "sim-thread"
        with pytest.raises(ZeroDivisionError):
            runner.call(lambda d: 1 / 0)
    finally:
        runner.stop()


def test_realtime_runner_reports_a_crashed_device() -> None:
    dev = EchoDevice()
    dev.fail_on = b"boom"
    runner = RealtimeRunner(dev, Sink()).start()
    try:
        runner.write(b"boom")
        runner._thread.join(5)
        assert not runner.running
        with pytest.raises(SimulatorError, match="scripted device failure"):
            runner.write(b"more")
    finally:
        runner.stop()


def test_realtime_runner_after_step_sees_every_shot() -> None:
    dev = EchoDevice(latency=0.001)
    seen: list[int] = []
    sink = Sink()
    runner = RealtimeRunner(dev, sink, after_step=lambda d: seen.append(len(d.executed_log)))
    runner.start()
    try:
        for i in range(5):
            runner.write(bytes([65 + i, 0]))
        sink.wait_for(10)
        runner.call(lambda d: None)
    finally:
        runner.stop()
    # The hook ran after the step that produced the last output (writes may be batched).
    assert seen[-1] == len(dev.executed_log) >= 1
    assert "".join(s.data for s in dev.executed_log) == bytes(sink.data).hex()


# -- link faults ------------------------------------------------------------------------------


def test_no_faults_is_a_byte_exact_pass_through() -> None:
    rng = random.Random(7)
    data = bytes(rng.randrange(256) for _ in range(5000))
    ff = FrameFaults(Faults(), random.Random(1))
    assert ff.passthrough
    out = bytearray()
    t = 0.0
    i = 0
    while i < len(data):
        n = rng.randint(1, 300)
        ff.push(data[i : i + n], t)
        out += ff.pull(t)
        i += n
        t += 0.001
    assert bytes(out) == data
    assert ff.next_due() is None


def test_faults_are_deterministic_per_seed() -> None:
    everything = Faults(drop=0.1, duplicate=0.1, corrupt=0.1, delay=0.1, split=0.1)
    a = run_faults(everything, seed=3, n=500)
    b = run_faults(everything, seed=3, n=500)
    c = run_faults(everything, seed=4, n=500)
    assert a == b
    assert a != c


def test_drop_rate_is_as_configured() -> None:
    n = 4000
    acks, d = delivered(run_faults(Faults(drop=0.1), seed=1, n=n))
    assert d.error_count == 0
    assert len(acks) == len(set(acks))
    assert abs(len(acks) - 0.9 * n) < 4 * (n * 0.1 * 0.9) ** 0.5
    assert acks == sorted(acks)  # dropping never reorders


def test_duplicate_rate_is_as_configured() -> None:
    n = 4000
    acks, _ = delivered(run_faults(Faults(duplicate=0.2), seed=2, n=n))
    dups = len(acks) - len(set(acks))
    assert set(acks) == set(range(n))
    assert abs(dups - 0.2 * n) < 4 * (n * 0.2 * 0.8) ** 0.5
    # A duplicate follows its original directly.
    assert all(a <= b for a, b in itertools.pairwise(acks))


def test_corrupt_rate_is_as_configured_and_the_crc_catches_it() -> None:
    n = 4000
    ff_out = run_faults(Faults(corrupt=0.1), seed=3, n=n)
    acks, d = delivered(ff_out)
    lost = n - len(acks)
    assert abs(lost - 0.1 * n) < 4 * (n * 0.1 * 0.9) ** 0.5
    assert d.error_count >= lost  # every damaged frame is rejected (some into two pieces)
    assert len(set(acks)) == len(acks)


def test_delay_reorders_within_the_bound() -> None:
    n = 2000
    out = run_faults(Faults(delay=0.1), seed=4, n=n, spacing=0.002)
    acks, d = delivered(out)
    assert d.error_count == 0
    assert sorted(acks) == list(range(n))  # nothing lost or damaged
    late = sum(1 for a, b in itertools.pairwise(acks) if b < a)
    assert late > 0.05 * n  # delayed frames are overtaken by later ones
    # Bounded: a frame is never overtaken by one sent more than max_delay (50 ms) later.
    position = {ack: i for i, ack in enumerate(acks)}
    for ack, i in position.items():
        for later in range(ack + 26, min(ack + 40, n)):
            assert position[later] > i


def test_split_cuts_frames_but_never_interleaves_them() -> None:
    n = 1000
    out = run_faults(Faults(split=0.5), seed=5, n=n, spacing=0.0005)
    data = b"".join(d for _, d in out)
    assert data == b"".join(frames(n))  # the stream is intact, only its timing changed
    partial = sum(1 for _, d in out if not d.endswith(b"\0"))
    assert partial > 0.2 * n
    ff = FrameFaults(Faults(split=1.0), random.Random(0))
    ff.push(frames(1)[0], 0.0)
    first = ff.pull(0.0)
    assert 0 < len(first) < len(frames(1)[0])


def test_manipulator_wraps_a_device_both_ways() -> None:
    dev = EchoDevice(latency=0.001)
    manip = LinkFaultManipulator(dev, Faults(drop=0.5), Faults(), seed=9)
    assert isinstance(manip, ByteDevice)
    assert inner_device(manip) is dev
    assert manip.executed_log is dev.executed_log  # attributes reach the wrapped device
    runner = WarpRunner(manip)
    sent = frames(400)
    echoed = bytearray()
    for frame in sent:
        runner.write(frame)
        echoed += runner.run_for(0.002)
    echoed += runner.run_for(0.1)
    acks, _ = delivered([(0.0, bytes(echoed))])
    assert 120 < len(acks) < 280
    assert dev.received == b"".join(f for f in sent if Deframer().feed(f)[0].ack in set(acks))


def test_manipulator_stamps_device_output_when_it_is_sent() -> None:
    dev = EchoDevice(latency=0.010)
    # Device->host frames delayed: they must still leave no earlier than the echo time.
    manip = LinkFaultManipulator(dev, Faults(), Faults(split=1.0), seed=1)
    runner = WarpRunner(manip)
    runner.write(frames(1)[0])
    out = b""
    times = []
    while len(out) < len(frames(1)[0]):
        chunk = runner.step(limit=1.0)
        if chunk:
            times.append(manip.now)
        out += chunk
    assert out == frames(1)[0]
    assert min(times) >= 0.010
    assert len(times) >= 2


# -- the in-process pipe ----------------------------------------------------------------------


def test_realtime_pipe_round_trip_and_timeouts() -> None:
    port = open_pipe(device=EchoDevice(latency=0.002), realtime=True)
    assert isinstance(port, RealtimePort)
    try:
        t0 = time.monotonic()
        assert port.read(10, timeout=0.05) == b""
        assert time.monotonic() - t0 >= 0.05
        assert port.read(10, timeout=0) == b""
        port.write(b"abcdef\0")
        first = port.read(3, timeout=5)
        assert first == b"abc"
        rest = port.read(100, timeout=5)
        assert first + rest == b"abcdef\0"
        assert port.in_waiting == 0
        assert port.call(lambda d: d.received) == b"abcdef\0"
    finally:
        port.close()
    with pytest.raises(PortClosed):
        port.read(1, timeout=0)
    with pytest.raises(PortClosed):
        port.write(b"x")


def test_realtime_pipe_cancel_and_close_wake_a_blocked_reader() -> None:
    port = open_pipe(device=EchoDevice(), realtime=True)
    results: list[object] = []

    def reader() -> None:
        try:
            results.append(port.read(10, timeout=None))
        except PortClosed as exc:
            results.append(exc)

    t = threading.Thread(target=reader)
    t.start()
    port.cancel_read()
    t.join(5)
    assert results == [b""]
    t = threading.Thread(target=reader)
    t.start()
    port.close()
    t.join(5)
    assert not t.is_alive()


def test_warp_pipe_jumps_straight_to_the_answer() -> None:
    dev = EchoDevice(latency=0.004)
    port = open_pipe(device=dev, realtime=False)
    assert isinstance(port, WarpPort)
    port.write(b"q\0")
    t0 = time.monotonic()
    assert port.read(10, timeout=30.0) == b"q\0"
    assert time.monotonic() - t0 < 5  # simulated, not waited
    assert dev.now == pytest.approx(0.004)
    # Timeout in simulated time, and an idle device returns at once on timeout=None.
    assert port.read(10, timeout=2.0) == b""
    assert dev.now == pytest.approx(2.004)
    assert port.read(10, timeout=None) == b""
    port.run_until(3.0)
    assert dev.now == 3.0
    port.close()


# -- shot log ---------------------------------------------------------------------------------


def test_shot_log_appends_each_executed_entry_once(tmp_path: pytest.TempPathFactory) -> None:
    import json
    from pathlib import Path

    path = Path(str(tmp_path)) / "shots.jsonl"
    dev = EchoDevice(latency=0.0)
    log = ShotLogWriter(path)
    runner = WarpRunner(dev)
    for i in range(3):
        runner.write(bytes([i]))
        runner.run_for(0.001)
        log(dev)
        log(dev)
    log.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    # a start line when the entry appears, an end line once it is final (EchoDevice: at once)
    assert lines == [{"index": i, "data": bytes([i]).hex(), "event": e}
                     for i in range(3) for e in ("start", "end")]


def test_to_jsonable_keeps_wire_integers_for_int_enums() -> None:
    import enum

    class Status(enum.IntEnum):
        DONE = 3

    assert to_jsonable({"s": Status.DONE, "b": b"\x01", "t": (1, 2.5)}) == {
        "s": 3,
        "b": "01",
        "t": [1, 2.5],
    }


# -- pyusb backend (scripted device) ----------------------------------------------------------


def test_usb_backend_enumerates_and_moves_bytes() -> None:
    import usb.core
    import usb.util
    from mesosim.transports import usb as simusb

    be = simusb.backend(device=EchoDevice(latency=0.001))
    try:
        dev = usb.core.find(idVendor=0x1209, backend=be)
        assert dev is not None
        assert (dev.idVendor, dev.idProduct) == (0x1209, 0x4D44)
        assert usb.core.find(idVendor=0x1234, backend=be) is None
        dev.set_configuration()
        cfg = dev.get_active_configuration()
        intf = cfg[(0, 0)]
        assert intf.bInterfaceNumber == 0 and intf.bInterfaceClass == 0xFF
        eps = {ep.bEndpointAddress: ep for ep in intf}
        assert set(eps) == {0x01, 0x81}
        assert all(ep.wMaxPacketSize == 64 for ep in eps.values())
        assert usb.util.endpoint_type(eps[0x81].bmAttributes) == usb.util.ENDPOINT_TYPE_BULK
        assert dev.manufacturer == "mesodrive"
        assert dev.serial_number == be.serial
        assert not dev.is_kernel_driver_active(0)
        payload = bytes(range(1, 200)) + b"\0"
        assert dev.write(0x01, payload) == len(payload)
        got = b""
        while len(got) < len(payload):
            got += bytes(dev.read(0x81, 64, timeout=2000))
        assert got == payload
        with pytest.raises(usb.core.USBTimeoutError):
            dev.read(0x81, 64, timeout=30)
        with pytest.raises(usb.core.USBError):
            dev.ctrl_transfer(0xC0, 0x42, 0, 0, 8)  # vendor request: stalls
        usb.util.dispose_resources(dev)
    finally:
        be.close()
    assert usb.core.find(idVendor=0x1209, backend=be) is None


def test_bytes_that_arrive_while_the_runner_is_held_up_are_fed_at_their_arrival_time() -> None:
    """Issue 13: a GC pause or a busy core holds the runner thread; the host's bytes written
    meanwhile must reach the device at the simulated time they arrived, not after the device
    was advanced past them (a heartbeat would look late and trip the dead-man)."""
    import threading
    import time as _time

    dev = EchoDevice(latency=0.0)
    seen: list[float] = []
    original_write = dev.write

    def timed_write(data: bytes) -> None:
        seen.append(dev.now)
        original_write(data)

    dev.write = timed_write  # type: ignore[method-assign]
    runner = RealtimeRunner(dev, lambda out: None).start()
    held, release = threading.Event(), threading.Event()

    def hold(_: object) -> None:
        held.set()
        release.wait(5)

    blocker = threading.Thread(target=lambda: runner.call(hold, timeout=10))
    blocker.start()
    try:
        assert held.wait(5)
        arrived = _time.monotonic()
        runner.write(b"heartbeat")
        _time.sleep(0.2)  # the runner is still held up
        released = _time.monotonic()
        release.set()
        blocker.join(5)
        deadline = _time.monotonic() + 5
        while not seen and _time.monotonic() < deadline:
            _time.sleep(0.01)
    finally:
        release.set()
        runner.stop()
    assert seen, "the device never got the bytes"
    # fed when it arrived (write() stamps it a few µs after `arrived`), long before the release
    assert seen[0] <= runner.sim_time_at(arrived) + 0.005 < runner.sim_time_at(released)
