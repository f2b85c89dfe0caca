"""Message and frame codec: round trips, range checks, and clear errors on bad frames."""

from __future__ import annotations

import struct
import zlib

import pytest
from cobs import cobs
from hypothesis import given
from hypothesis import strategies as st

from mesodrive.protocol import (
    Channel,
    FrameError,
    FrameErrorKind,
    RangeError,
    decode_frame,
    decode_message,
    decode_wire,
)
from mesodrive.protocol.codec import encode_message
from mesodrive.protocol.frame import FLAG_SEQ, MAX_ENCODED, MAX_FRAME, encode_frame, pack_frame
from mesodrive.protocol.messages import MAX_PAYLOAD, MESSAGES, QueueShot, StatusQuery
from tests.protocol.strategies import messages_of, str_field_bytes, str_field_ok

SHOT = QueueShot(
    boot_nonce=7, session=1, index=0, trigger=0, fire_tick=10**9, depth_um=2000,
    volume_nl=20_000, flow_nl_s=10_000, speed_um_s=20_000, dwell_ms=50,
)


@pytest.mark.parametrize("cls", list(MESSAGES.values()), ids=lambda c: c.NAME)
@given(data=st.data(), seq=st.integers(0, 0xFFFF), ack=st.integers(0, 0xFFFF))
def test_every_message_round_trips(cls: type, data: st.DataObject, seq: int, ack: int) -> None:
    msg = data.draw(messages_of(cls))
    wire = encode_message(msg, seq, ack)
    assert wire.count(0) == 1 and wire.endswith(b"\0")
    assert len(wire) <= MAX_ENCODED
    frame = decode_frame(wire)
    assert frame.ack == ack
    assert frame.seq == (seq if frame.sequenced else 0)
    assert decode_message(frame) == msg


def test_every_payload_fits() -> None:
    assert all(cls.STRUCT.size <= MAX_PAYLOAD for cls in MESSAGES.values())


def test_encode_refuses_out_of_range_naming_field_and_value() -> None:
    bad = QueueShot(**{**SHOT.as_dict(), "depth_um": 4501})
    with pytest.raises(RangeError, match=r"queue_shot\.depth_um = 4501 is outside \[500, 4500\]"):
        encode_message(bad)
    # the device must still be able to receive such a frame, to reject it with a reason
    assert decode_message(decode_frame(encode_message(bad, check=False))).depth_um == 4501


def test_enum_fields_are_range_checked() -> None:
    with pytest.raises(RangeError, match="trigger"):
        encode_message(QueueShot(**{**SHOT.as_dict(), "trigger": 2}))


def test_overlong_string_is_refused() -> None:
    from mesodrive.protocol.messages import Identity

    fields = {spec.name: spec.min for spec in Identity.FIELDS if not spec.str_size}
    with pytest.raises(RangeError, match="serial"):
        encode_message(Identity(**fields, serial="X" * 17, firmware="1"))


@given(data=st.binary(max_size=300))
def test_decode_frame_never_raises_anything_but_frame_error(data: bytes) -> None:
    try:
        decode_message(decode_frame(data))
    except FrameError:
        pass


def _corrupt(wire: bytes, i: int) -> bytes:
    raw = bytearray(cobs.decode(wire[:-1]))
    raw[i % len(raw)] ^= 0x5A
    return cobs.encode(bytes(raw)) + b"\0"


@given(i=st.integers(0, 1000))
def test_any_single_byte_corruption_is_detected(i: int) -> None:
    with pytest.raises(FrameError) as err:
        decode_frame(_corrupt(encode_message(SHOT, 3, 4), i))
    assert err.value.kind in (FrameErrorKind.BAD_CRC, FrameErrorKind.BAD_VERSION)


@pytest.mark.parametrize(
    ("wire", "kind"),
    [
        (cobs.encode(b"\x01\x00\x00\x00\x00\x00\x03") + b"\0", FrameErrorKind.TRUNCATED),
        (cobs.encode(b"\x07" * (MAX_FRAME + 1)) + b"\0", FrameErrorKind.OVERSIZE),
        (b"\x05\x01\0", FrameErrorKind.BAD_COBS),
    ],
)
def test_malformed_frames(wire: bytes, kind: FrameErrorKind) -> None:
    with pytest.raises(FrameError) as err:
        decode_frame(wire)
    assert err.value.kind is kind


def test_wrong_version_is_rejected() -> None:
    raw = bytearray(pack_frame(0, 0, 0, StatusQuery.MSG_ID, b"\x01\x00"))
    raw[0] = 2
    body = bytes(raw[:-4])
    wire = cobs.encode(body + zlib.crc32(body).to_bytes(4, "little")) + b"\0"
    with pytest.raises(FrameError) as err:
        decode_frame(wire)
    assert err.value.kind is FrameErrorKind.BAD_VERSION


def test_unknown_id_and_bad_length() -> None:
    with pytest.raises(FrameError) as err:
        decode_message(decode_frame(encode_frame(0, 0, 0, 0xEE, b"")))
    assert err.value.kind is FrameErrorKind.UNKNOWN_ID
    with pytest.raises(FrameError, match="status_query payload is 3 bytes, expected 2") as err:
        decode_message(decode_frame(encode_frame(0, 0, 0, StatusQuery.MSG_ID, b"abc")))
    assert err.value.kind is FrameErrorKind.BAD_LENGTH


def test_unencodable_string_is_a_range_error_not_a_crash() -> None:
    from mesodrive.protocol.messages import Identity

    fields = {spec.name: spec.min for spec in Identity.FIELDS if not spec.str_size}
    with pytest.raises(RangeError, match="serial"):
        Identity(**fields, serial="\ud800", firmware="1").check()


def _identity_payload(serial: bytes, firmware: bytes = b"fw") -> bytes:
    """An identity payload with these raw bytes (padded with 0x00) in its string fields."""
    from mesodrive.protocol.messages import Identity

    raw = {"serial": serial, "firmware": firmware}
    sizes = {"u8": 1, "u16": 2, "u32": 4, "u64": 8, "i32": 4}
    out = b"".join(raw[spec.name].ljust(spec.str_size, b"\0") if spec.str_size
                   else bytes(sizes[spec.type]) for spec in Identity.FIELDS)
    assert len(out) == Identity.STRUCT.size
    return out


@pytest.mark.parametrize(
    "serial",
    [b"\xff", b"ab\x80", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
     b"ab\xe2\x82", b"a" * 14 + b"\xe2\x82", b"ab\0c", b"\0" * 15 + b"\x01"],
)
def test_invalid_string_is_bad_string_naming_the_field(serial: bytes) -> None:
    from mesodrive.protocol.messages import Identity

    wire = encode_frame(0, 0, 0, Identity.MSG_ID, _identity_payload(serial))
    with pytest.raises(FrameError, match=r"identity\.serial") as err:
        decode_message(decode_frame(wire))
    assert err.value.kind is FrameErrorKind.BAD_STRING


@given(raw=str_field_bytes(16))
def test_string_fields_decode_strictly(raw: bytes) -> None:
    from mesodrive.protocol.messages import Identity

    wire = encode_frame(0, 0, 0, Identity.MSG_ID, _identity_payload(raw))
    if str_field_ok(raw):
        msg = decode_message(decode_frame(wire))
        assert isinstance(msg, Identity)
        assert msg.serial.encode() == raw.rstrip(b"\0")
        assert encode_frame(0, 0, 0, Identity.MSG_ID, msg.pack()) == wire  # and back, exactly
    else:
        with pytest.raises(FrameError) as err:
            decode_message(decode_frame(wire))
        assert err.value.kind is FrameErrorKind.BAD_STRING


@pytest.mark.parametrize("serial", ["a\0b", "ab\0", "\0"])
def test_string_with_nul_is_refused(serial: str) -> None:
    # It would read back as padding: "ab\0" as "ab", "a\0b" as bad_string.
    from mesodrive.protocol.messages import Identity

    fields = {spec.name: spec.min for spec in Identity.FIELDS if not spec.str_size}
    msg = Identity(**fields, serial=serial, firmware="1")
    with pytest.raises(RangeError, match="serial"):
        msg.check()
    assert [e.field for e in msg.range_errors()] == ["serial"]


# ---- the fused path (generated per message) against the reference path -----------------------


def _reference(wire: bytes) -> tuple[int, int, int, object] | str:
    """decode_frame + decode_message: the verdict the fused decoder must reproduce."""
    try:
        frame = decode_frame(wire)
        return frame.flags, frame.seq, frame.ack, decode_message(frame)
    except FrameError as exc:
        return exc.kind.value


def _fused(wire: bytes) -> tuple[int, int, int, object] | str:
    try:
        return decode_wire(wire)
    except FrameError as exc:
        return exc.kind.value


@pytest.mark.parametrize("cls", list(MESSAGES.values()), ids=lambda c: c.NAME)
@given(data=st.data(), seq=st.integers(0, 0xFFFF), ack=st.integers(0, 0xFFFF))
def test_fused_encoder_matches_the_reference_frame(
    cls: type, data: st.DataObject, seq: int, ack: int
) -> None:
    msg = data.draw(messages_of(cls))
    flags = FLAG_SEQ if msg.CHANNEL is Channel.SEQ else 0
    want = encode_frame(flags, seq if flags else 0, ack, msg.MSG_ID, msg.pack())
    assert encode_message(msg, seq, ack) == encode_message(msg, seq, ack, check=False) == want
    assert decode_wire(want) == decode_wire(want[:-1]) == (flags, seq if flags else 0, ack, msg)
    assert type(decode_wire(want)[3]) is cls


@given(data=st.binary(max_size=300))
def test_fused_decoder_on_noise_gives_the_reference_verdict(data: bytes) -> None:
    assert _fused(data) == _reference(data)


@given(i=st.integers(0, 1000), x=st.integers(1, 255), extra=st.binary(max_size=3))
def test_fused_decoder_on_damaged_frames_gives_the_reference_verdict(
    i: int, x: int, extra: bytes
) -> None:
    raw = bytearray(cobs.decode(encode_message(SHOT, 3, 4)[:-1]))
    raw[i % len(raw)] ^= x
    for body in (bytes(raw), bytes(raw[:-4]) + extra):  # CRC wrong / recomputed
        for r in (body, body + zlib.crc32(body).to_bytes(4, "little")):
            wire = cobs.encode(r) + b"\0"
            assert _fused(wire) == _reference(wire)


def test_fused_decoder_verdicts_in_order() -> None:
    ok = encode_message(SHOT, 3, 4)
    assert _fused(b"") == _reference(b"") == "truncated"
    assert _fused(b"\0") == "truncated"
    assert _fused(ok + ok) == "bad_cobs"  # two frames: a 0x00 inside
    assert _fused(b"\x05" * 300) == "oversize"
    assert _fused(encode_frame(0, 0, 0, 0xEE, b"")) == "unknown_id"
    assert _fused(encode_frame(0, 0, 0, StatusQuery.MSG_ID, b"abc")) == "bad_length"
    assert _fused(encode_frame(0, 0, 0, StatusQuery.MSG_ID, b"")) == "bad_length"
    wrong_version = bytearray(pack_frame(0, 0, 0, StatusQuery.MSG_ID, b"\x01\x00"))
    wrong_version[0] = 2
    body = bytes(wrong_version[:-4])
    assert _fused(cobs.encode(body + zlib.crc32(body).to_bytes(4, "little"))) == "bad_version"
    wrong_version[-1] ^= 1  # and a bad CRC too: the CRC is checked first
    assert _fused(cobs.encode(bytes(wrong_version))) == "bad_crc"


@pytest.mark.parametrize(
    "serial",
    [b"\xff", b"ab\x80", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
     b"ab\xe2\x82", b"a" * 14 + b"\xe2\x82", b"ab\0c", b"\0" * 15 + b"\x01", b"ok", b"\xe2\x82\xac"],
)
def test_fused_decoder_strings(serial: bytes) -> None:
    from mesodrive.protocol.messages import Identity

    wire = encode_frame(0, 0, 0, Identity.MSG_ID, _identity_payload(serial))
    assert _fused(wire) == _reference(wire)
    if str_field_ok(serial.ljust(16, b"\0")):
        assert _fused(wire) != "bad_string"
    else:
        assert _fused(wire) == "bad_string"


@pytest.mark.parametrize(
    ("field", "value"),
    [("depth_um", 499), ("depth_um", 4501), ("session", 0), ("index", 2**32 - 1),
     ("boot_nonce", 2**32), ("boot_nonce", -1), ("fire_tick", 2**64), ("trigger", 256),
     ("dwell_ms", 2500.0), ("volume_nl", None), ("flow_nl_s", "100"), ("trigger", 2)],
)
def test_fused_encoder_refuses_what_check_refuses(field: str, value: object) -> None:
    bad = QueueShot(**{**SHOT.as_dict(), field: value})
    with pytest.raises(RangeError) as err:
        encode_message(bad, 1, 2)
    assert err.value.field == field
    assert bad.range_errors()[0].field == field


def test_fused_encoder_unchecked_and_header_errors_stay_struct_errors() -> None:
    with pytest.raises(struct.error):
        encode_message(QueueShot(**{**SHOT.as_dict(), "boot_nonce": 2**32}), check=False)
    with pytest.raises(struct.error):
        encode_message(SHOT, 2**16, 0)  # seq is not a field: no RangeError to give
    # out of its valid range but within its wire type: sent as is when unchecked
    assert decode_wire(encode_message(QueueShot(**{**SHOT.as_dict(), "depth_um": 1}),
                                      check=False))[3].depth_um == 1
