"""Write the golden frames in firmware_protocol/vectors/ from messages.toml.

    python firmware_protocol/make_vectors.py          # (re)write the vector files
    python firmware_protocol/make_vectors.py --check  # exit 1 if any vector file is stale

One `<message>.json` per message: a list of cases
    {"name", "message", "flags", "seq", "ack", "in_range", "fields", "frame"}
where `frame` is the hex of the wire bytes including the trailing 00, `fields` maps each field to
its value (strN fields as text) and `in_range` is false for a case whose fields lie outside their
valid range (the host encoder refuses it unless told not to check; decoders must accept it).
Flags and seq are those the host encoder uses: flag SEQ and any seq for sequenced messages, flags 0
and seq 0 otherwise. `malformed.json` lists frames no receiver may accept:
    {"name", "frame", "error"}   with error one of the FrameErrorKind values.
Messages with strN fields also get a `utf8_edges` case (the code points at the edges of every UTF-8
sequence length and around the surrogates: a strict decoder must accept them), and malformed.json
gets `bad_string_*` frames: strN bytes that are not well-formed UTF-8, or junk after the padding.

The frames are built here from the catalogue alone (own packing, own COBS, zlib's CRC), not with
the mesodrive codec, so the vectors are an independent check of both the Python and the C codec.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zlib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import catalogue
from catalogue import Catalogue, FieldDef, MessageDef

VECTORS_DIR = HERE / "vectors"
HEADER_SIZE = 7
CRC_SIZE = 4
FLAG_SEQ = 0x01
U16_MAX = 0xFFFF

Case = dict[str, Any]


# ---- independent frame construction --------------------------------------------------------


def cobs_encode(data: bytes) -> bytes:
    """Plain COBS (no delimiter). Frames are < 254 bytes, so no full 0xFF block ever arises here
    except in the deliberately oversize malformed case, where only the length matters."""
    out = bytearray()
    block = bytearray()
    for b in data:
        if b == 0:
            out += bytes([len(block) + 1]) + block
            block.clear()
        else:
            block.append(b)
            if len(block) == 254:
                out += b"\xff" + block
                block.clear()
    out += bytes([len(block) + 1]) + block
    return bytes(out)


def raw_frame(version: int, flags: int, seq: int, ack: int, msg_id: int, payload: bytes,
              crc_ok: bool = True) -> bytes:
    body = (
        bytes([version, flags]) + seq.to_bytes(2, "little") + ack.to_bytes(2, "little")
        + bytes([msg_id]) + payload
    )
    crc = zlib.crc32(body) ^ (0 if crc_ok else 0x00000001)
    return body + crc.to_bytes(4, "little")


def wire(raw: bytes) -> bytes:
    return cobs_encode(raw) + b"\0"


def pack_field(f: FieldDef, value: int | str) -> bytes:
    if isinstance(value, str):
        data = value.encode()
        assert len(data) <= f.size, (f.name, value)
        return data.ljust(f.size, b"\0")
    return value.to_bytes(f.size, "little", signed=f.type == "i32")


def pack_payload(m: MessageDef, fields: dict[str, int | str]) -> bytes:
    return b"".join(pack_field(f, fields[f.name]) for f in m.fields)


# ---- field values ----------------------------------------------------------------------------


def _hash_int(label: str) -> int:
    """A deterministic 'random' number (random.Random's algorithms may change between Pythons)."""
    return int.from_bytes(hashlib.sha256(label.encode()).digest()[:8], "big")


def _fit_utf8(text: str, size: int) -> str:
    """The longest prefix of a repeated text whose UTF-8 form fits in size bytes."""
    out = ""
    for ch in (text * size):
        if len((out + ch).encode()) > size:
            break
        out += ch
    return out


# Valid code points at the edges of the strict UTF-8 byte ranges, 16 bytes each, the last character
# ending at the last byte: the lowest 2-, 3- and 4-byte forms (C2 80, E0 A0 80, F0 90 80 80), the
# highest below the surrogates (ED 9F BF) and the highest of all (F4 8F BF BF); then the highest
# 1- and 2-byte forms, the lowest above the surrogates, U+FFFF, U+FFFD and an emoji.
UTF8_EDGES = ("\x80\u0800\ud7ff\U00010000\U0010ffff", "\x7f\u07ff\ue000\uffff\ufffd\U0001f600")

# strN field contents no receiver may accept (PROTOCOL.md §1), each a prefix of the field; the rest
# of the field is 0x00. Written as bytes, not built with a UTF-8 codec.
BAD_STRINGS: list[tuple[str, bytes]] = [
    ("lone_continuation", b"ab\x80"),
    ("continuation_run", b"\x80\xbf\x80"),
    ("ff_byte", b"\xff"),
    ("fe_byte", b"a\xfe"),
    ("overlong_slash_2_bytes", b"\xc0\xaf"),
    ("overlong_c1", b"\xc1\xbf"),
    ("overlong_3_bytes", b"\xe0\x80\xaf"),
    ("overlong_3_bytes_u07ff", b"\xe0\x9f\xbf"),
    ("overlong_4_bytes", b"\xf0\x80\x80\xaf"),
    ("overlong_4_bytes_uffff", b"\xf0\x8f\xbf\xbf"),
    ("surrogate_high_ud800", b"\xed\xa0\x80"),
    ("surrogate_low_udfff", b"\xed\xbf\xbf"),
    ("surrogate_pair_cesu8", b"\xed\xa0\xbd\xed\xb2\xa9"),
    ("above_max_u110000", b"\xf4\x90\x80\x80"),
    ("lead_f5", b"\xf5\x80\x80\x80"),
    ("lead_f8_5_bytes", b"\xf8\x88\x80\x80\x80"),
    ("missing_continuation", b"\xe2\x28\xa1"),
    ("cut_before_padding", b"ab\xe2\x82"),
    ("cut_4_bytes_before_padding", b"\xf0\x9f\x98"),
    # Non-zero bytes after the first 0x00: the padding must be 0x00 to the end.
    ("byte_after_padding", b"ab\x00c"),
    ("utf8_after_padding", b"\x00\xc2\xb5"),
]


def valid_range(f: FieldDef, cat: Catalogue) -> tuple[int, int]:
    return f.effective_range(cat) or (f.wire_min, f.wire_max)


def field_value(f: FieldDef, cat: Catalogue, case: str, msg: str) -> int | str:
    if f.is_str:
        return {
            "min": "",
            "max": _fit_utf8(f"{f.name}-0123456789abcdefghijklmnopqrstuvwxyz", f.size),  # full, ASCII
            "pattern": _fit_utf8("µm Düse ✓ ", f.size // 2 + 1),  # multi-byte, not full
            "utf8_full": _fit_utf8("µ", f.size),  # every byte used, by 2-byte characters
        }[case]
    lo, hi = valid_range(f, cat)
    if case == "min":
        return lo
    if case == "max":
        return hi
    # Any in-range value whose bytes differ from field to field: catches swapped fields and
    # byte order mistakes that all-zero/all-ones min/max cases cannot.
    return lo + _hash_int(f"{msg}.{f.name}") % (hi - lo + 1)


def out_of_range_value(f: FieldDef, cat: Catalogue) -> int | None:
    """A wire-valid value just outside the valid range, or None if the range is the whole type."""
    rng = f.effective_range(cat)
    if rng is None:
        return None
    if rng[1] < f.wire_max:
        return rng[1] + 1
    if rng[0] > f.wire_min:
        return rng[0] - 1
    return None


# ---- cases -------------------------------------------------------------------------------------


def _case(m: MessageDef, name: str, seq: int, ack: int, fields: dict[str, int | str],
          in_range: bool = True) -> Case:
    sequenced = m.channel == "seq"
    flags = FLAG_SEQ if sequenced else 0
    seq = seq if sequenced else 0  # the host sends seq 0 in unsequenced frames
    frame = wire(raw_frame(1, flags, seq, ack, m.id, pack_payload(m, fields)))
    return {
        "name": name,
        "message": m.name,
        "flags": flags,
        "seq": seq,
        "ack": ack,
        "in_range": in_range,
        "fields": fields,
        "frame": frame.hex(),
    }


def message_cases(m: MessageDef, cat: Catalogue) -> list[Case]:
    def values(kind: str) -> dict[str, int | str]:
        return {f.name: field_value(f, cat, kind, m.name) for f in m.fields}

    h = _hash_int(m.name)
    cases = [
        _case(m, "min", 0, 0, values("min")),
        _case(m, "max", U16_MAX, U16_MAX, values("max")),
        _case(m, "pattern", h & U16_MAX, (h >> 16) & U16_MAX, values("pattern")),
    ]
    if any(f.is_str for f in m.fields):
        full = values("pattern") | {f.name: field_value(f, cat, "utf8_full", m.name)
                                    for f in m.fields if f.is_str}
        cases.append(_case(m, "utf8_full", 1, 1, full))
        str_fields = [f for f in m.fields if f.is_str]
        edges = values("pattern") | {f.name: _fit_utf8(UTF8_EDGES[i % 2], f.size)
                                     for i, f in enumerate(str_fields)}
        cases.append(_case(m, "utf8_edges", 3, 3, edges))
    outside: dict[str, int | str] = {f.name: v for f in m.fields if (v := out_of_range_value(f, cat)) is not None}
    if outside:
        cases.append(_case(m, "out_of_range", 2, 2, values("pattern") | outside, in_range=False))
    return cases


def malformed_cases(cat: Catalogue) -> list[Case]:
    version = cat.protocol["version"]
    max_payload = cat.protocol["max_payload"]
    by_id = sorted(cat.messages, key=lambda m: m.id)
    with_fields = next(m for m in by_id if m.size > 0)
    empty = next(m for m in by_id if m.size == 0)
    largest = max(by_id, key=lambda m: m.size)
    unknown_id = next(i for i in range(0xFF, -1, -1) if i not in {m.id for m in by_id})
    good_payload = bytes(range(1, with_fields.size + 1))

    def frame(payload: bytes = good_payload, *, msg_id: int = with_fields.id, ver: int = version,
              crc_ok: bool = True) -> bytes:
        return raw_frame(ver, 0, 0, 0, msg_id, payload, crc_ok)

    good = frame()
    flipped = bytearray(good)
    flipped[HEADER_SIZE] ^= 0x10
    good_wire = wire(good)

    cases: list[tuple[str, bytes, str]] = [
        ("bad_crc_payload_bit_flipped", wire(bytes(flipped)), "bad_crc"),
        ("bad_crc_crc_bit_flipped", wire(frame(crc_ok=False)), "bad_crc"),
        # The CRC is checked before the version, so a corrupted version byte is a CRC error.
        ("bad_crc_checked_before_version", wire(bytes([version + 1]) + good[1:]), "bad_crc"),
        ("bad_version_0", wire(frame(ver=0)), "bad_version"),
        ("bad_version_next", wire(frame(ver=version + 1)), "bad_version"),
        ("truncated_empty", b"\0", "truncated"),
        ("truncated_header_only", wire(good[:HEADER_SIZE]), "truncated"),
        ("truncated_one_short", wire(good[: HEADER_SIZE + CRC_SIZE - 1]), "truncated"),
        # Length is checked before the CRC: a short frame is truncated even if its CRC is wrong.
        ("truncated_before_crc", wire(bytes(10)), "truncated"),
        ("oversize_raw_one_over", wire(frame(bytes(max_payload + 1), msg_id=unknown_id)),
         "oversize"),
        ("oversize_long_run", b"\x01" * 300 + b"\0", "oversize"),
        ("bad_cobs_code_past_end", bytes([0x05, 0x01, 0x02, 0x00]), "bad_cobs"),
        ("bad_cobs_zero_inside", good_wire[:3] + b"\0" + good_wire[3:], "bad_cobs"),
        ("unknown_id_empty", wire(frame(b"", msg_id=unknown_id)), "unknown_id"),
        # The largest raw frame the framing accepts: it must get as far as the id check.
        ("unknown_id_max_payload", wire(frame(bytes(range(max_payload)), msg_id=unknown_id)),
         "unknown_id"),
        (f"bad_length_{with_fields.name}_short", wire(frame(good_payload[:-1])), "bad_length"),
        (f"bad_length_{with_fields.name}_long", wire(frame(good_payload + b"\x01")),
         "bad_length"),
        (f"bad_length_{empty.name}_not_empty", wire(frame(b"\x01", msg_id=empty.id)),
         "bad_length"),
        (f"bad_length_{largest.name}_short",
         wire(frame(bytes(largest.size - 1), msg_id=largest.id)), "bad_length"),
        (f"bad_length_{largest.name}_max_payload",
         wire(frame(bytes(max_payload), msg_id=largest.id)), "bad_length"),
    ]
    cases += bad_string_cases(cat)
    return [{"name": n, "frame": f.hex(), "error": e} for n, f, e in cases]


def bad_string_cases(cat: Catalogue) -> list[tuple[str, bytes, str]]:
    """Frames of the message with the longest strN field (the lowest id of those) whose string
    bytes are invalid; everything else about them (length, CRC, version, the other fields) is
    valid. Cases longer than the field are left out."""
    with_str = [m for m in sorted(cat.messages, key=lambda m: m.id)
                if any(f.is_str for f in m.fields)]
    if not with_str:
        return []
    m = max(with_str, key=lambda m: max(f.size for f in m.fields if f.is_str))
    good = {f.name: field_value(f, cat, "pattern", m.name) for f in m.fields}
    flags = FLAG_SEQ if m.channel == "seq" else 0

    def with_str(field: FieldDef, data: bytes) -> bytes:
        payload = b"".join(data.ljust(f.size, b"\0") if f is field else pack_field(f, good[f.name])
                           for f in m.fields)
        return wire(raw_frame(cat.protocol["version"], flags, 0, 0, m.id, payload))

    strs = [f for f in m.fields if f.is_str]
    first = max(strs, key=lambda f: f.size)
    n = first.size
    cases = [(name, first, data) for name, data in BAD_STRINGS]
    cases += [
        # A 3-byte character cut off by the end of a full field (no padding at all).
        ("cut_by_field_end", first, b"a" * (n - 2) + b"\xe2\x82"),
        # A lone non-zero byte in the last byte of the padding.
        ("last_padding_byte", first, b"ab"[: n - 1].ljust(n - 1, b"\0") + b"\x01"),
    ]
    for other in (f for f in strs if f is not first):  # every strN field is checked
        cases += [
            (f"{other.name}_surrogate", other, b"\xed\xa0\x80"),
            (f"{other.name}_byte_after_padding", other, b"x\x00y"),
        ]
    return [(f"bad_string_{name}", with_str(field, data), "bad_string")
            for name, field, data in cases if len(data) <= field.size]


# ---- files -------------------------------------------------------------------------------------


def _dump(obj: Any) -> str:
    # ensure_ascii=False keeps UTF-8 test strings readable; u64 values stay exact JSON integers.
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def expected_files(cat: Catalogue | None = None) -> dict[Path, str]:
    cat = cat or catalogue.load()
    files = {
        VECTORS_DIR / f"{m.name}.json": _dump(message_cases(m, cat))
        for m in sorted(cat.messages, key=lambda m: m.id)
    }
    files[VECTORS_DIR / "malformed.json"] = _dump(malformed_cases(cat))
    return files


def stale() -> list[Path]:
    """Vector files that are missing, differ, or belong to no message any more."""
    files = expected_files()
    bad = [p for p, text in files.items()
           if not p.exists() or p.read_text(encoding="utf-8") != text]
    bad += sorted(p for p in VECTORS_DIR.glob("*.json") if p not in files)
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--check", action="store_true", help="only report stale vector files")
    args = ap.parse_args()
    if args.check:
        bad = stale()
        for p in bad:
            print(f"stale: {p.relative_to(HERE.parent)}", file=sys.stderr)
        return 1 if bad else 0
    files = expected_files()
    VECTORS_DIR.mkdir(exist_ok=True)
    for p in sorted(VECTORS_DIR.glob("*.json")):
        if p not in files:
            p.unlink()  # a message was removed from the catalogue
            print(f"removed {p.relative_to(HERE.parent)}")
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} files to {VECTORS_DIR.relative_to(HERE.parent)}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
