"""Hypothesis strategies for protocol messages, derived from the generated field specs."""

from __future__ import annotations

import re

from hypothesis import strategies as st

from mesodrive.protocol.message_base import FieldSpec, Message
from mesodrive.protocol.messages import MESSAGES


def field_values(spec: FieldSpec) -> st.SearchStrategy[object]:
    if spec.str_size:
        # Printable ASCII plus a little UTF-8, never longer than the field once encoded.
        return st.text(
            alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x24F, exclude_characters="\0"),
            max_size=spec.str_size,
        ).filter(lambda s: len(s.encode()) <= spec.str_size)
    return st.integers(min_value=spec.min, max_value=spec.max)


def messages_of(cls: type[Message]) -> st.SearchStrategy[Message]:
    return st.builds(cls, **{spec.name: field_values(spec) for spec in cls.FIELDS})


any_message: st.SearchStrategy[Message] = st.one_of(
    [messages_of(cls) for cls in MESSAGES.values()]
)


# ---- strN field bytes as they may arrive: valid, invalid UTF-8, junk after the padding ---------

# Well-formed UTF-8 as Unicode §3.9 table 3-7 lists it, written out independently of any codec:
# the oracle for both decoders (PROTOCOL.md §1).
STRICT_UTF8 = re.compile(
    rb"(?:[\x00-\x7f]|[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]"
    rb"|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2})*"
)


def str_field_ok(raw: bytes) -> bool:
    """Is a received strN field valid: strict UTF-8 before the first 0x00, only 0x00 after it?"""
    value, _, padding = raw.partition(b"\0")
    return STRICT_UTF8.fullmatch(value) is not None and padding.count(0) == len(padding)


# What a strN field's bytes are made of: characters of every length (the highest and lowest of
# each), every kind of invalid sequence, sequences cut short, and 0x00.
STR_PIECES = [
    b"a", b"\x7f", b"\xc2\x80", b"\xdf\xbf", b"\xe0\xa0\x80", b"\xed\x9f\xbf", b"\xee\x80\x80",
    b"\xef\xbf\xbf", b"\xf0\x90\x80\x80", b"\xf4\x8f\xbf\xbf", "µ✓😀".encode(),
    b"\x80", b"\xbf", b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x9f\xbf", b"\xed\xa0\x80", b"\xed\xbf\xbf",
    b"\xf0\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xfe", b"\xff",
    b"\xc2", b"\xe2\x82", b"\xf0\x9f\x98", b"\0",
]


@st.composite
def str_field_bytes(draw: st.DrawFn, size: int) -> bytes:
    """Exactly `size` bytes for a strN field, often invalid (PROTOCOL.md §1), sometimes valid."""
    how = draw(st.sampled_from(["pieces", "random", "junk_after_padding"]))
    if how == "random":
        return draw(st.binary(min_size=size, max_size=size))
    pieces = draw(st.lists(st.sampled_from(STR_PIECES) | st.binary(min_size=1, max_size=3),
                           max_size=size))
    data = b"".join(pieces)[:size]
    if how == "junk_after_padding" and len(data) < size:
        i = draw(st.integers(len(data), size - 1))
        data = data.ljust(i, b"\0") + draw(st.binary(min_size=1, max_size=size - i))
    return data.ljust(size, b"\0")
