"""Every in-process transport against the real simulated firmware, driven by a client that uses
only PROTOCOL.md and `mesodrive.protocol` encode/decode: link_sync, identify, status_query."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import serial
from mesosim.transports.shotlog import read_shot_log

from mesodrive.protocol import Deframer, FrameError, Message, decode_message, encode_message
from mesodrive.protocol.endpoint import Endpoint
from mesodrive.protocol.messages import (
    PROTOCOL_VERSION,
    SCHEMA_HASH,
    Arm,
    CommandReply,
    DeviceState,
    Heartbeat,
    Home,
    Identify,
    Identity,
    LinkSync,
    LinkSyncReply,
    QueueShot,
    Result,
    ShotAccepted,
    ShotResult,
    SoftTrigger,
    StateEvent,
    StatusQuery,
    StatusReply,
    TriggerMode,
)

pytest.importorskip("mesosim.firmware")

from mesosim.config import SimConfig
from mesosim.firmware import SimDevice
from mesosim.transports import open_pipe
from mesosim.transports.port import SimPort

Reply = Any


class Client:
    """A bare PROTOCOL.md client over any `send(bytes)` / `recv(timeout) -> bytes` pair."""

    def __init__(self, send: Callable[[bytes], Any], recv: Callable[[float], bytes]) -> None:
        self.send, self.recv = send, recv
        self.deframer = Deframer()
        self.token = 100

    def ask(self, make: Callable[[int], Any], reply: type, *, timeout: float = 10.0,
            retry: float = 0.3) -> Reply:  # fmt: skip
        """Send a query, re-asking with a fresh token (PROTOCOL.md §8) until its answer."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.token += 1
            token = self.token
            self.send(encode_message(make(token)))
            resend = time.monotonic() + retry
            while time.monotonic() < min(resend, deadline):
                for frame in self.deframer.feed(self.recv(0.05)):
                    try:
                        msg = decode_message(frame)
                    except FrameError:
                        continue
                    if isinstance(msg, reply) and getattr(msg, "token", None) == token:
                        return msg
        raise AssertionError(f"no {reply.__name__} within {timeout} s")

    def handshake(self) -> tuple[LinkSyncReply, Identity, StatusReply]:
        self.send(b"\0")
        sync = self.ask(lambda t: LinkSync(token=t), LinkSyncReply)
        ident = self.ask(lambda t: Identify(token=t), Identity)
        status = self.ask(lambda t: StatusQuery(token=t), StatusReply)
        return sync, ident, status


class ShotClient:
    """Enough of a host to fire one shot: the link layer (`Endpoint`) for sequenced commands,
    heartbeats while armed. Used to check the simulator's shot log against the host's view."""

    def __init__(self, send: Callable[[bytes], Any], recv: Callable[[float], bytes]) -> None:
        self.send, self.recv = send, recv
        self.ep = Endpoint()
        self.inbox: list[Message] = []
        self.armed = False
        self.last_heartbeat = 0.0
        self.token = 500

    def pump(self, timeout: float = 0.01) -> None:
        data = self.recv(timeout)
        now = time.monotonic()
        self.inbox += [m for m in self.ep.receive(data, now) if isinstance(m, Message)]
        if self.armed and now - self.last_heartbeat >= 0.05:
            self.send(self.ep.send(Heartbeat()))
            self.last_heartbeat = now
        out = self.ep.poll(now)
        if out:
            self.send(out)

    def wait_for(self, match: Callable[[Message], bool], timeout: float = 10.0) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, msg in enumerate(self.inbox):
                if match(msg):
                    return self.inbox.pop(i)
            self.pump()
        raise AssertionError(f"no matching message within {timeout} s; inbox {self.inbox}")

    def ask(self, make: Callable[[int], Message], reply: type) -> Any:
        for _ in range(20):
            self.token += 1
            token = self.token

            def answers(m: Message, token: int = token) -> bool:
                return isinstance(m, reply) and getattr(m, "token", None) == token

            self.send(self.ep.send(make(token)))
            try:
                return self.wait_for(answers, 0.5)
            except AssertionError:
                continue
        raise AssertionError(f"no {reply.__name__}")

    def command(self, msg: Message) -> None:
        self.ep.send(msg)
        reply = self.wait_for(lambda m: isinstance(m, CommandReply) and m.command == msg.MSG_ID)
        assert isinstance(reply, CommandReply) and reply.code == Result.OK, reply

    def fire_one_shot(self, session: int = 7, index: int = 0) -> ShotResult:
        self.send(b"\0")
        self.ask(lambda t: LinkSync(token=t), LinkSyncReply)
        self.ep.reset()
        ident = self.ask(lambda t: Identify(token=t), Identity)
        self.command(Home())
        self.wait_for(lambda m: isinstance(m, StateEvent) and m.state == DeviceState.READY)
        self.armed = True  # heartbeats from the moment arm may have been delivered (§11)
        self.command(Arm(boot_nonce=ident.boot_nonce, session=session, telemetry_ms=0))
        self.ep.send(
            QueueShot(
                boot_nonce=ident.boot_nonce, session=session, index=index,
                trigger=int(TriggerMode.ON_TRIGGER), fire_tick=0, depth_um=2000,
                volume_nl=1000, flow_nl_s=10_000, speed_um_s=50_000, dwell_ms=0,
            )
        )  # fmt: skip
        self.wait_for(lambda m: isinstance(m, ShotAccepted) and m.index == index)
        self.command(SoftTrigger())
        result = self.wait_for(lambda m: isinstance(m, ShotResult) and m.index == index)
        assert isinstance(result, ShotResult)
        return result


def check_shot_log(lines: list[dict[str, Any]], result: ShotResult) -> None:
    """The simulator's truth agrees with what the host was told."""
    assert len(lines) == 1
    (entry,) = lines
    assert (entry["session"], entry["index"]) == (result.session, result.index)
    assert entry["end_tick"] == result.end_tick
    assert entry["reported_delivered_nl"] == result.delivered_nl
    assert entry["end_time"] is not None and not entry["power_lost"]
    assert entry["true_delivered_nl"] > 0


def serial_client(port: serial.SerialBase) -> Client:
    def recv(timeout: float) -> bytes:
        port.timeout = timeout
        first = bytes(port.read(1))
        return first + (bytes(port.read(port.in_waiting)) if first and port.in_waiting else b"")

    return Client(port.write, recv)


def pipe_client(port: SimPort) -> Client:
    return Client(port.write, lambda timeout: port.read(4096, timeout))


def check_handshake(result: tuple[LinkSyncReply, Identity, StatusReply], serial_no: str) -> None:
    sync, ident, status = result
    assert ident.protocol_version == PROTOCOL_VERSION
    assert ident.schema_hash == SCHEMA_HASH
    assert ident.serial == serial_no
    assert ident.boot_nonce == sync.boot_nonce
    assert status.state in set(DeviceState)


def test_the_firmware_is_a_byte_device() -> None:
    from mesosim.transports import ByteDevice

    assert isinstance(SimDevice(SimConfig()), ByteDevice)


@pytest.mark.parametrize("realtime", [True, False], ids=["realtime", "warp"])
def test_pipe_handshake(realtime: bool) -> None:
    with open_pipe(SimConfig(seed=2, serial="PIPE-1"), realtime=realtime) as port:
        check_handshake(pipe_client(port).handshake(), "PIPE-1")


def test_sim_url_handshake() -> None:
    import mesosim.transports  # noqa: F401  (registers sim://)

    with serial.serial_for_url("sim://?seed=3&serial=URL-7", timeout=0.5) as port:
        assert port.is_open
        check_handshake(serial_client(port).handshake(), "URL-7")
        assert isinstance(port.sim_device, SimDevice)
        port.reset_input_buffer()
        assert port.in_waiting == 0
    assert not port.is_open
    with pytest.raises(serial.PortNotOpenError):
        port.read(1)


def test_sim_url_warp_mode() -> None:
    import mesosim.transports  # noqa: F401

    with serial.serial_for_url("sim://?realtime=0&serial=WARP", timeout=5) as port:
        check_handshake(serial_client(port).handshake(), "WARP")
        before = port.sim_call(lambda d: d.now)
        t0 = time.monotonic()
        port.timeout = 30.0  # thirty simulated seconds, not wall seconds
        data = port.read(1)
        assert time.monotonic() - t0 < 10
        after = port.sim_call(lambda d: d.now)
        assert after > before
        if not data:  # an idle device: the whole timeout passed in simulated time
            assert after >= before + 30.0


def test_sim_url_with_link_faults_still_answers_queries() -> None:
    import mesosim.transports  # noqa: F401

    url = "sim://?seed=5&serial=LOSSY&link=drop:0.2,dup:0.1,corrupt:0.1,delay:0.2,split:0.3"
    with serial.serial_for_url(url, timeout=0.5) as port:
        check_handshake(serial_client(port).handshake(), "LOSSY")
        stats = port.sim_call(lambda d: (d.host_to_device.stats, d.device_to_host.stats))
        assert stats[0]["frames"] > 0 and stats[1]["frames"] > 0


@pytest.mark.parametrize(
    "url, words",
    [
        ("sim://?bogus=1", ["bogus"]),
        ("sim://?link=drop:2", ["drop"]),
        ("sim://?seed=abc", ["seed", "abc"]),
        ("sim://somehost?seed=1", ["query"]),
    ],
)
def test_sim_url_errors_name_the_problem(url: str, words: list[str]) -> None:
    import mesosim.transports  # noqa: F401

    with pytest.raises(serial.SerialException) as info:
        serial.serial_for_url(url)
    for word in words:
        assert word in str(info.value)


def test_pipe_shot_log_records_the_executed_shot(tmp_path: Path) -> None:
    from mesosim.transports.shotlog import ShotLogWriter

    path = tmp_path / "shots.jsonl"
    log = ShotLogWriter(path)
    with open_pipe(SimConfig(seed=6), after_step=log) as port:
        client = ShotClient(port.write, lambda timeout: port.read(4096, timeout))
        result = client.fire_one_shot()
        port.call(lambda d: None)  # one more runner step: the hook has run after the shot
        written = path.read_text()  # written while the simulator runs, not only at close
    log.close()
    assert written == path.read_text()
    check_shot_log(read_shot_log(path), result)


@pytest.mark.slow
def test_a_shot_through_a_lossy_link() -> None:
    query = "seed=2&link=drop:0.1,dup:0.1,corrupt:0.1,delay:0.1,split:0.3"
    with open_pipe(SimConfig.from_query(query)) as port:
        client = ShotClient(port.write, lambda timeout: port.read(4096, timeout))
        result = client.fire_one_shot()
        assert result.delivered_nl > 0
        h2d, d2h = port.call(lambda d: (d.host_to_device.stats, d.device_to_host.stats))
    assert h2d["frames"] > 0 and d2h["frames"] > 0


def test_warp_runs_with_link_faults_are_reproducible() -> None:
    from mesosim.transports import WarpRunner, build_device

    def run() -> bytes:
        config = SimConfig.from_query(
            "seed=8&reproducible=1&link=drop:0.2,dup:0.2,corrupt:0.2,delay:0.2,split:0.5"
        )
        runner = WarpRunner(build_device(config))
        out = bytearray()
        for i in range(200):
            runner.write(encode_message(StatusQuery(token=i)))
            out += runner.run_for(0.005)
        return bytes(out + runner.run_for(1.0))

    first = run()
    assert first == run()
    replies = [decode_message(f) for f in Deframer().feed(first)]
    assert 60 < sum(isinstance(m, StatusReply) for m in replies) < 200


def test_usb_backend_end_to_end() -> None:
    import usb.core
    import usb.util
    from mesosim.transports import usb as simusb

    be = simusb.backend(SimConfig(seed=4, serial="USB-42"))
    try:
        dev = usb.core.find(idVendor=0x1209, backend=be)
        assert dev is not None and dev.idProduct == 0x4D44
        assert dev.serial_number == "USB-42"
        assert usb.util.get_string(dev, dev.iSerialNumber) == "USB-42"
        dev.set_configuration()
        usb.util.claim_interface(dev, 0)

        def send(data: bytes) -> None:
            for i in range(0, len(data), 64):  # 64-byte packets, frames spanning them
                dev.write(0x01, data[i : i + 64], timeout=1000)

        def recv(timeout: float) -> bytes:
            try:
                return bytes(dev.read(0x81, 64, timeout=max(1, int(timeout * 1000))))
            except usb.core.USBTimeoutError:
                return b""

        check_handshake(Client(send, recv).handshake(), "USB-42")
        usb.util.release_interface(dev, 0)
        usb.util.dispose_resources(dev)
    finally:
        be.close()
