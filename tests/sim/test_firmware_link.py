"""The device side of framing and the link layer (PROTOCOL.md §3-§9, §14), through the wire."""

from __future__ import annotations

import struct
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mesosim import SimConfig, SimDevice

from mesodrive.protocol.frame import FLAG_SEQ, encode_frame
from mesodrive.protocol.messages import (
    MESSAGES,
    SCHEMA_HASH,
    Arm,
    BootEvent,
    CommandReply,
    DeviceState,
    ErrorReply,
    Estop,
    Home,
    Identify,
    Identity,
    LinkSync,
    LinkSyncReply,
    Result,
    ShotAccepted,
    StatusQuery,
    StatusReply,
    TriggerMode,
)


def test_boot_event_first(host: Any) -> None:
    assert host.wire.startswith(b"\0")  # a lone delimiter flushes the host's deframer
    (boot,) = host.msgs(BootEvent)
    assert boot.boot_nonce == host.nonce != 0
    assert host.dev.state is DeviceState.IDLE


def test_link_sync_and_identity(host: Any) -> None:
    reply = host.connect()
    assert isinstance(reply, LinkSyncReply) and reply.boot_nonce == host.nonce
    ident = host.identity()
    cfg = host.dev.config
    assert ident.protocol_version == 1 and ident.schema_hash == SCHEMA_HASH
    assert ident.serial == cfg.serial and ident.boot_nonce == host.nonce
    assert ident.tick_hz == 1_000_000
    assert 500 <= ident.depth_min_um <= ident.depth_max_um <= 4500
    assert (ident.volume_min_nl, ident.volume_max_nl) == (cfg.volume_min_nl, cfg.volume_max_nl)
    assert ident.queue_len == cfg.queue_len and ident.horizon_ms == cfg.horizon_ms
    assert ident.syringe_nl == cfg.syringe_nl
    assert ident.sensors == 15 and ident.modes == 3


def test_identity_reflects_config() -> None:
    dev = SimDevice(SimConfig(serial="BENCH-7", contact_sensor=False, triggered_mode=False))
    dev.write(encode_frame(0, 0, 0, Identify.MSG_ID, struct.pack("<H", 5)))
    from mesodrive.protocol.endpoint import Endpoint

    msgs = Endpoint().receive(dev.read(), 0.0)
    ident = next(m for m in msgs if isinstance(m, Identity))
    assert ident.serial == "BENCH-7" and ident.sensors == 13 and ident.modes == 1


def test_sequenced_frames_are_acked_at_once(host: Any) -> None:
    host.connect()
    host.send(Home())
    assert host.ep.link.pending == 0  # the device acknowledged within the same instant
    assert host.replies(Home) == [Result.OK]


def test_undecodable_frames(host: Any) -> None:
    host.connect()
    link = host.ep.link
    link.send(0x3F, b"")  # unknown id, sequenced
    link.send(Home.MSG_ID, b"\x01")  # bad length, sequenced
    link.send(StatusQuery.MSG_ID, struct.pack("<H", 1))  # a query sent sequenced
    link.send(CommandReply.MSG_ID, b"\x20\x00")  # a device message sent to the device
    link.send(0x00, b"")  # a pure ack with the SEQ flag
    host.send_raw(host.ep.poll(host.t))
    codes = [(m.command, m.code) for m in host.msgs(CommandReply)]
    assert codes == [
        (0x3F, Result.UNKNOWN_MESSAGE),
        (Home.MSG_ID, Result.BAD_LENGTH),
        (StatusQuery.MSG_ID, Result.UNKNOWN_MESSAGE),
        (CommandReply.MSG_ID, Result.UNKNOWN_MESSAGE),
        (0x00, Result.UNKNOWN_MESSAGE),
    ]
    assert host.dev.state is DeviceState.IDLE  # nothing acted on
    # The sequence advanced past the undecodable frames: the stream does not stall.
    host.clear()
    host.send(Home())
    assert host.replies(Home) == [Result.OK]

    host.clear()
    host.send_raw(link.unsequenced(0x1F, b"abc"))
    host.send_raw(link.unsequenced(StatusQuery.MSG_ID, b"\x01"))
    host.send_raw(link.unsequenced(Identity.MSG_ID, b""))
    host.send_raw(link.unsequenced(Home.MSG_ID, b""))  # a command sent unsequenced
    errors = [(m.msg_id, m.code) for m in host.msgs(ErrorReply)]
    assert errors == [
        (0x1F, Result.UNKNOWN_MESSAGE),
        (StatusQuery.MSG_ID, Result.BAD_LENGTH),
        (Identity.MSG_ID, Result.UNKNOWN_MESSAGE),
        (Home.MSG_ID, Result.UNKNOWN_MESSAGE),
    ]
    assert not host.msgs(CommandReply)


def test_invalid_frames_are_ignored(host: Any) -> None:
    host.connect()
    good = encode_frame(0, 0, 0, StatusQuery.MSG_ID, struct.pack("<H", 77))
    bad_crc = bytearray(good)
    bad_crc[3] ^= 0x40
    host.clear()
    host.send_raw(bytes(bad_crc))
    host.send_raw(b"\x01\x02\x03\x00")  # truncated
    host.send_raw(b"\x07" * 400 + b"\x00")  # oversize run
    host.send_raw(
        encode_frame(0, 0, 0, StatusQuery.MSG_ID, b"\x01\x00").replace(b"\x02", b"\x03", 1)
    )
    assert host.inbox == []
    host.send_raw(b"\x00\x00" + good[:5])
    host.send_raw(good[5:])  # a frame split across writes still arrives
    assert [m.token for m in host.msgs(StatusReply)] == [77]


def test_duplicate_sequenced_frame_runs_once(armed: Any) -> None:
    h = armed
    h.ep.send(h.shot(0, trigger=TriggerMode.ON_TRIGGER))
    frame = h.ep.poll(h.t)
    h.send_raw(frame)
    h.send_raw(frame)  # a retransmission after a lost ack
    h.send_raw(frame)
    assert h.msgs(ShotAccepted) == [ShotAccepted(7, 0)]
    assert h.status().queued == 1


def test_device_retransmits_until_acked(host: Any) -> None:
    """Device->host frames are retransmitted go-back-N when the host's acks are lost."""
    dev = host.dev
    host.connect()
    dev.write(encode_frame(FLAG_SEQ, 0, 0, Home.MSG_ID, b""))  # a host that never acks
    first = dev.read()
    assert first
    dev.advance_to(dev.now + 0.21)
    again = dev.read()
    assert again  # retransmitted after the initial 200 ms RTO
    # after 8 unanswered expiries the device declares the link lost and goes quiet
    dev.advance_to(dev.now + 20.0)
    dev.read()
    dev.advance_to(dev.now + 5.0)
    assert dev.read() == b""
    assert dev.next_wakeup() is None or dev.state is DeviceState.HOMING
    # link_sync brings it back
    dev.write(encode_frame(0, 0, 0, LinkSync.MSG_ID, struct.pack("<H", 9)))
    assert dev.read()


def test_link_lost_while_armed_faults(armed: Any) -> None:
    from mesodrive.protocol.messages import Fault

    h = armed
    dev = h.dev
    # Stop acknowledging but keep feeding the dead-man with unsequenced heartbeats.
    h.ep.link.send(0x7E, b"")  # answered by a sequenced command_reply the host never acks
    dev.write(h.ep.poll(h.t))
    h.keepalive = False
    t = h.t
    for _ in range(120):
        t += 0.05
        dev.advance_to(t)
        dev.read()
        dev.write(encode_frame(0, 0, 0, 0x0B, b""))  # heartbeat, with a stale ack
    assert dev.state is DeviceState.FAULT
    assert dev.faults & (1 << (Fault.LINK_LOST - 1))


def test_oob_estop_with_seq_flag_is_still_honoured(armed: Any) -> None:
    h = armed
    h.ep.link.send(Estop.MSG_ID, struct.pack("<H", 4))
    h.send_raw(h.ep.poll(h.t))
    assert h.dev.state is DeviceState.ESTOPPED
    assert [m.state for m in h.msgs(StatusReply) if m.token == 4] == [DeviceState.ESTOPPED]


# ---- robustness -------------------------------------------------------------------------------
_ids = st.sampled_from(sorted(MESSAGES) + [0x3F, 0x7F, 0xFF])


@st.composite
def _frames(draw: Any) -> bytes:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return bytes(draw(st.binary(max_size=300)))
    msg_id = draw(_ids)
    cls = MESSAGES.get(msg_id)
    if cls is not None and draw(st.booleans()):
        payload = draw(st.binary(min_size=cls.STRUCT.size, max_size=cls.STRUCT.size))
    else:
        payload = draw(st.binary(max_size=40))
    flags = draw(st.sampled_from([0, FLAG_SEQ, 0xFF]))
    seq = draw(st.integers(0, 3))
    ack = draw(st.integers(0, 65535))
    frame = encode_frame(flags, seq, ack, msg_id, payload)
    if kind == 3:
        cut = draw(st.integers(0, len(frame)))
        frame = frame[:cut]
    return frame


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    setup=st.sampled_from(["idle", "armed"]),
    chunks=st.lists(st.tuples(_frames(), st.floats(0.0, 0.3)), max_size=25),
)
def test_random_input_never_raises(setup: str, chunks: list[tuple[bytes, float]]) -> None:
    dev = SimDevice(SimConfig(seed=5))
    from mesodrive.protocol.endpoint import Endpoint

    host = Endpoint()
    if setup == "armed":
        for msg in (Home(),):
            dev.write(host.send(msg) + host.poll(0.0))
        dev.advance_to(0.6)
        host.receive(dev.read(), 0.6)
        dev.write(host.send(Arm(dev.boot_nonce, 3, 20)) + host.poll(0.6))
    t = dev.now
    for data, dt in chunks:
        dev.write(data)
        t += dt
        dev.advance_to(t)
        host.receive(dev.read(), t)  # whatever the device says decodes as valid frames
    dev.press_trigger()
    dev.set_contact(False)
    dev.advance_to(t + 1.0)
    assert dev.state in DeviceState
    assert host.deframer.error_count == 0
