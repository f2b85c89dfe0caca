"""The reference C codec (firmware_protocol/c/) against the golden vectors and the Python codec.

firmware_protocol/c/*.c is compiled, warnings as errors, into md_vector_tool, a line-oriented
harness (protocol in md_vector_tool.c). Every test batches all its lines through one process so
the whole module runs in a few seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest
from cobs import cobs
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mesodrive.protocol.codec import decode_message, decode_wire, encode_message
from mesodrive.protocol.frame import FLAG_SEQ, Frame, FrameError, decode_frame, encode_frame
from mesodrive.protocol.message_base import Channel, FieldSpec, Message
from mesodrive.protocol.messages import MESSAGES
from tests.protocol.strategies import STR_PIECES, STRICT_UTF8, str_field_bytes, str_field_ok

ROOT = Path(__file__).resolve().parents[2]
C_DIR = ROOT / "firmware_protocol" / "c"
VECTORS = ROOT / "firmware_protocol" / "vectors"
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O1"]
BY_NAME = {cls.NAME: cls for cls in MESSAGES.values()}
WIRE_RANGE = {"u8": (0, 2**8 - 1), "u16": (0, 2**16 - 1), "u32": (0, 2**32 - 1),
              "u64": (0, 2**64 - 1), "i32": (-(2**31), 2**31 - 1)}
# Few examples of ~200 messages each: one process per example. No shrinking: every shrink step
# is a process too, a failure could then take minutes, and the assertion already lists each
# mismatching line on its own.
FAST = settings(max_examples=5, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _find_cc() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="module")
def tool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = _find_cc()
    if cc is None:
        pytest.skip("no C compiler (cc, gcc or clang; or $CC) on PATH")
    exe = tmp_path_factory.mktemp("c_codec") / "md_vector_tool"
    sources = sorted(str(p) for p in C_DIR.glob("*.c"))
    result = subprocess.run(
        [cc, *CFLAGS, "-o", str(exe), *sources], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"C build failed:\n{result.stderr}"
    return exe


def run_tool(tool: Path, lines: list[str]) -> list[str]:
    """Feed every line through one md_vector_tool process; one answer per line."""
    result = subprocess.run([str(tool)], input="".join(f"{ln}\n" for ln in lines),
                            capture_output=True, text=True, timeout=60, check=True)
    out = result.stdout.splitlines()
    assert len(out) == len(lines), result.stderr
    return out


# ---- the tool's text format, from the Python side ------------------------------------------


def _str_bytes(spec: FieldSpec, value: str) -> bytes:
    return value.encode().ljust(spec.str_size, b"\0")


def decode_line(frame: Frame, msg: Message) -> str:
    """What md_vector_tool prints for a frame that decodes to msg."""
    parts = [f"ok flags={frame.flags} seq={frame.seq} ack={frame.ack} msg={msg.NAME}"]
    for spec in msg.FIELDS:
        value = getattr(msg, spec.name)
        parts.append(f"{spec.name}={_str_bytes(spec, value).hex() if spec.str_size else value}")
    return " ".join(parts)


def python_verdict(wire: bytes) -> str:
    """The Python codec's verdict on wire bytes, in md_vector_tool's format."""
    try:
        frame = decode_frame(wire)
        return decode_line(frame, decode_message(frame))
    except FrameError as exc:
        return f"error {exc.kind.value}"


def encode_command(name: str, flags: int, seq: int, ack: int, fields: dict[str, Any]) -> str:
    args = [f"{k}={v.encode().hex() if isinstance(v, str) else v}" for k, v in fields.items()]
    return " ".join(["encode", name, str(flags), str(seq), str(ack), *args])


def _message_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in sorted(VECTORS.glob("*.json")):
        if path.name != "malformed.json":
            cases += json.loads(path.read_text(encoding="utf-8"))
    return cases


def _malformed_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((VECTORS / "malformed.json").read_text("utf-8"))
    return cases


def _mismatches(labels: list[str], got: list[str], want: list[str]) -> list[str]:
    return [f"{lbl}:\n  C:      {g}\n  wanted: {w}"
            for lbl, g, w in zip(labels, got, want) if g != w]


# ---- golden vectors --------------------------------------------------------------------------


def test_c_selftest(tool: Path) -> None:
    assert run_tool(tool, ["selftest"]) == ["ok"]


def test_c_decodes_every_vector(tool: Path) -> None:
    cases = _message_cases()
    got = run_tool(tool, [f"decode {c['frame']}" for c in cases])
    want = []
    for c in cases:
        cls = BY_NAME[c["message"]]
        parts = [f"ok flags={c['flags']} seq={c['seq']} ack={c['ack']} msg={c['message']}"]
        for spec in cls.FIELDS:
            v = c["fields"][spec.name]
            parts.append(f"{spec.name}={_str_bytes(spec, v).hex() if spec.str_size else v}")
        want.append(" ".join(parts))
    bad = _mismatches([f"{c['message']}/{c['name']}" for c in cases], got, want)
    assert not bad, "\n".join(bad)


def test_c_encodes_every_vector(tool: Path) -> None:
    cases = _message_cases()
    got = run_tool(tool, [encode_command(c["message"], c["flags"], c["seq"], c["ack"], c["fields"])
                          for c in cases])
    bad = _mismatches([f"{c['message']}/{c['name']}" for c in cases], got,
                      [c["frame"] for c in cases])
    assert not bad, "\n".join(bad)


def test_c_rejects_every_malformed_vector(tool: Path) -> None:
    cases = _malformed_cases()
    got = run_tool(tool, [f"decode {c['frame']}" for c in cases])
    bad = _mismatches([c["name"] for c in cases], got, [f"error {c['error']}" for c in cases])
    assert not bad, "\n".join(bad)


def test_c_decodes_without_trailing_delimiter(tool: Path) -> None:
    cases = _message_cases()[:20]
    got = run_tool(tool, [f"decode {c['frame'][:-2]}" for c in cases])
    want = run_tool(tool, [f"decode {c['frame']}" for c in cases])
    assert got == want


# ---- random messages, both directions ----------------------------------------------------------


def _text(size: int) -> st.SearchStrategy[str]:
    """UTF-8 text of at most size bytes, without NUL (the Python decoder strips trailing NULs)."""

    def fit(s: str) -> str:
        while len(s.encode()) > size:
            s = s[:-1]
        return s

    chars = st.characters(codec="utf-8", min_codepoint=1)  # utf-8: no lone surrogates
    return st.text(chars, max_size=size).map(fit)


@st.composite
def messages(draw: st.DrawFn) -> Message:
    """Any decodable message: every field anywhere in its wire type, not only its valid range."""
    cls = draw(st.sampled_from(sorted(MESSAGES.values(), key=lambda c: c.MSG_ID)))
    values = {
        spec.name: draw(_text(spec.str_size) if spec.str_size
                        else st.integers(*WIRE_RANGE[spec.type]))
        for spec in cls.FIELDS
    }
    return cls(**values)


u16s = st.integers(0, 2**16 - 1)


@FAST
@given(st.lists(st.tuples(messages(), u16s, u16s), min_size=100, max_size=200))
def test_python_encoded_messages_decode_identically_in_c(
    tool: Path, batch: list[tuple[Message, int, int]]
) -> None:
    wires = [encode_message(msg, seq, ack, check=False) for msg, seq, ack in batch]
    got = run_tool(tool, [f"decode {w.hex()}" for w in wires])
    want = [decode_line(decode_frame(w), msg) for w, (msg, _, _) in zip(wires, batch)]
    bad = _mismatches([w.hex() for w in wires], got, want)
    assert not bad, "\n".join(bad)


@FAST
@given(st.lists(st.tuples(messages(), st.integers(0, 255), u16s, u16s), min_size=100,
                max_size=200))
def test_c_encoded_messages_decode_identically_in_python(
    tool: Path, batch: list[tuple[Message, int, int, int]]
) -> None:
    # Any flags and seq, not only what encode_message would pick: receivers must accept them.
    got = run_tool(tool, [encode_command(m.NAME, flags, seq, ack, m.as_dict())
                          for m, flags, seq, ack in batch])
    for line, (msg, flags, seq, ack) in zip(got, batch):
        wire = bytes.fromhex(line)
        assert wire == encode_frame(flags, seq, ack, msg.MSG_ID, msg.pack())
        frame = decode_frame(wire)
        assert (frame.flags, frame.seq, frame.ack) == (flags, seq, ack)
        assert decode_message(frame) == msg


# ---- damaged input: both codecs must reach the same verdict -------------------------------------

WIRE_SIZE = {"u8": 1, "u16": 2, "u32": 4, "u64": 8, "i32": 4}
STR_MESSAGES = [cls for cls in sorted(MESSAGES.values(), key=lambda c: c.MSG_ID)
                if any(spec.str_size for spec in cls.FIELDS)]


def _str_offsets(cls: type[Message]) -> list[tuple[int, int]]:
    """(offset, size) of every strN field in cls's payload (packed, catalogue order)."""
    out, off = [], 0
    for spec in cls.FIELDS:
        size = spec.str_size or WIRE_SIZE[spec.type]
        if spec.str_size:
            out.append((off, size))
        off += size
    assert off == cls.STRUCT.size
    return out


def _zero_message(cls: type[Message]) -> Message:
    return cls(**{spec.name: "" if spec.str_size else 0 for spec in cls.FIELDS})


def string_frame(cls: type[Message], payload: bytes, seq: int = 0, ack: int = 0) -> bytes:
    """Wire bytes of a frame with any payload, valid CRC, flags and seq as the channel wants."""
    sequenced = cls.CHANNEL is Channel.SEQ
    return encode_frame(FLAG_SEQ if sequenced else 0, seq if sequenced else 0, ack, cls.MSG_ID,
                        payload)


@st.composite
def string_damaged_wires(draw: st.DrawFn) -> bytes:
    """A valid frame (CRC recomputed) of a message with strN fields whose string bytes were
    replaced by random ones: invalid UTF-8 of every kind, junk after the padding, or valid."""
    # The other fields stay fixed: random ones add nothing here, and the entropy they would
    # take makes hypothesis overrun its buffer on a batch of these.
    cls = draw(st.sampled_from(STR_MESSAGES))
    payload = bytearray(_zero_message(cls).pack())
    for off, size in _str_offsets(cls):
        if draw(st.booleans()):
            payload[off:off + size] = draw(str_field_bytes(size))
    return string_frame(cls, bytes(payload), draw(u16s), draw(u16s))


@st.composite
def damaged_wires(draw: st.DrawFn) -> bytes:
    msg = draw(messages())
    wire = bytearray(encode_message(msg, draw(u16s), draw(u16s), check=False))
    how = draw(st.sampled_from(["garbage", "flip", "cut", "insert", "raw", "string"]))
    if how == "string" and STR_MESSAGES:
        return draw(string_damaged_wires())
    if how == "garbage":
        return draw(st.binary(max_size=300)) + draw(st.sampled_from([b"", b"\0"]))
    if how == "flip":
        i = draw(st.integers(0, len(wire) - 1))
        wire[i] ^= draw(st.integers(1, 255))
    elif how == "cut":
        del wire[draw(st.integers(0, len(wire) - 1)):]
    elif how == "insert":
        wire.insert(draw(st.integers(0, len(wire))), draw(st.integers(0, 255)))
    else:
        # Damage the raw frame but recompute the CRC: reaches the version, id and length checks.
        raw = bytearray(cobs.decode(bytes(wire[:-1])))[:-4]
        if draw(st.booleans()):
            raw[draw(st.integers(0, len(raw) - 1))] ^= draw(st.integers(1, 255))
        else:
            raw += draw(st.binary(min_size=1, max_size=8))
        raw += zlib.crc32(raw).to_bytes(4, "little")
        return bytes(cobs.encode(bytes(raw))) + b"\0"
    return bytes(wire)


@FAST
@given(st.lists(damaged_wires(), min_size=100, max_size=200))
def test_damaged_frames_get_the_same_verdict_in_c(tool: Path, batch: list[bytes]) -> None:
    got = run_tool(tool, [f"decode {w.hex()}" for w in batch])
    bad = _mismatches([w.hex() for w in batch], got, [python_verdict(w) for w in batch])
    assert not bad, "\n".join(bad)


# Its own test (own hypothesis buffer): every example reaches the strN checks, not by chance.
@pytest.mark.skipif(not STR_MESSAGES, reason="no message with a strN field in the catalogue")
@FAST
@given(st.lists(string_damaged_wires(), min_size=100, max_size=200))
def test_damaged_strings_get_the_same_verdict_in_c(tool: Path, batch: list[bytes]) -> None:
    got = run_tool(tool, [f"decode {w.hex()}" for w in batch])
    bad = _mismatches([w.hex() for w in batch], got, [python_verdict(w) for w in batch])
    assert not bad, "\n".join(bad)


def _fields_with_pieces(size: int) -> list[bytes]:
    """Deterministic strN contents: each piece (valid, invalid, cut short, 0x00) at every
    position of an otherwise-valid field, then a non-zero byte at every padding position."""
    out = []
    for piece in STR_PIECES:
        for pos in range(size):
            out.append((b"a" * pos + piece)[:size].ljust(size, b"\0"))
    for pos in range(1, size):
        out.append(b"ok"[:pos].ljust(pos, b"\0") + b"\x01".ljust(size - pos, b"\0"))
    return out


@pytest.mark.skipif(not STR_MESSAGES, reason="no message with a strN field in the catalogue")
def test_every_string_damage_gets_the_same_verdict_in_c(tool: Path) -> None:
    # Deterministic: whatever hypothesis draws, these frames are always checked.
    wires = []
    for cls in STR_MESSAGES:
        base = _zero_message(cls).pack()
        for off, size in _str_offsets(cls):
            for field in _fields_with_pieces(size):
                wires.append(string_frame(cls, base[:off] + field + base[off + size:]))
    want = [python_verdict(w) for w in wires]
    assert sum(v == "error bad_string" for v in want) > len(wires) // 3  # reached, often
    assert any(v.startswith("ok ") for v in want)
    got = run_tool(tool, [f"decode {w.hex()}" for w in wires])
    bad = _mismatches([w.hex() for w in wires], got, want)
    assert not bad, "\n".join(bad)


def _utf8_samples() -> list[bytes]:
    """Every 1- and 2-byte string, and 3- and 4-byte strings for every lead and second byte
    with the third and fourth bytes at the edges of the continuation range."""
    edges = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF]
    out = [bytes([a]) for a in range(256)]
    out += [bytes([a, b]) for a in range(256) for b in range(256)]
    out += [bytes([a, b, c]) for a in range(0xC0, 0x100) for b in range(256) for c in edges]
    out += [bytes([a, b, c, d]) for a in range(0xF0, 0x100) for b in range(256)
            for c in (0x7F, 0x80, 0xBF, 0xC0) for d in (0x7F, 0x80, 0xBF, 0xC0)]
    return out


def test_c_utf8_validator_is_strict(tool: Path) -> None:
    samples = _utf8_samples()
    want = ["valid" if STRICT_UTF8.fullmatch(s) else "invalid" for s in samples]
    for s, w in zip(samples, want):  # the table-3-7 oracle is Python's strict codec, too
        try:
            s.decode()
            assert w == "valid", s.hex()
        except UnicodeDecodeError:
            assert w == "invalid", s.hex()
    got = run_tool(tool, [f"utf8 {s.hex()}" for s in samples])
    bad = [f"{s.hex()}: C says {g}" for s, g, w in zip(samples, got, want) if g != w]
    assert not bad, "\n".join(bad[:50])
    assert str_field_ok(b"a\0\0") and not str_field_ok(b"a\0b")


@FAST
@given(st.lists(st.binary(max_size=1000), min_size=50, max_size=100),
       st.lists(st.binary(max_size=600), min_size=50, max_size=100))
def test_cobs_matches_the_python_package(
    tool: Path, plain: list[bytes], encoded: list[bytes]
) -> None:
    # Beyond frame sizes too, so full 0xFF blocks get exercised.
    got = run_tool(tool, [f"cobs {p.hex()}" for p in plain])
    assert got == [cobs.encode(p).hex() for p in plain]
    want = []
    for e in encoded:
        try:
            want.append(cobs.decode(e).hex())
        except cobs.DecodeError:
            want.append("error bad_cobs")
    assert run_tool(tool, [f"uncobs {e.hex()}" for e in encoded]) == want


# ---- the fused Python decoder (decode_wire) against the reference Python path ----------------
# No C here: python_verdict (decode_frame + decode_message) is what the C codec is held to above,
# so the fused path reaching the same verdicts on the same damage keeps all three in agreement.


def fused_verdict(wire: bytes) -> str:
    try:
        flags, seq, ack, msg = decode_wire(wire)
    except FrameError as exc:
        return f"error {exc.kind.value}"
    return decode_line(Frame(flags, seq, ack, msg.MSG_ID, b""), msg)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged_wires())
def test_fused_decoder_gives_the_reference_verdict_on_damage(wire: bytes) -> None:
    assert fused_verdict(wire) == python_verdict(wire)


@pytest.mark.skipif(not STR_MESSAGES, reason="no message with a strN field in the catalogue")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(string_damaged_wires())
def test_fused_decoder_gives_the_reference_verdict_on_string_damage(wire: bytes) -> None:
    assert fused_verdict(wire) == python_verdict(wire)


@pytest.mark.skipif(not STR_MESSAGES, reason="no message with a strN field in the catalogue")
def test_fused_decoder_gives_the_reference_verdict_on_every_string_damage() -> None:
    for cls in STR_MESSAGES:
        base = _zero_message(cls).pack()
        for off, size in _str_offsets(cls):
            for field in _fields_with_pieces(size):
                wire = string_frame(cls, base[:off] + field + base[off + size:])
                assert fused_verdict(wire) == python_verdict(wire), wire.hex()
