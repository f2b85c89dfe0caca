"""The MT-SICS reply parser: every tolerated variation of a real balance gives the same typed
value, and no input whatsoever escapes as anything but a typed balance error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesodrive.calibration import sics
from mesodrive.calibration.errors import BalanceError, BalanceGarbled

spaces = st.integers(1, 6).map(lambda n: " " * n)
line_end = st.sampled_from(["\r\n", "\n", "\r", ""])
unit = st.sampled_from([("g", 1000.0), ("G", 1000.0), ("mg", 1.0), ("MG", 1.0), ("Mg", 1.0)])


@given(
    ident=st.sampled_from(["S", "SI"]),
    status=st.sampled_from(["S", "D"]),
    digits=st.integers(0, 999_999),
    decimals=st.integers(0, 6),
    negative=st.booleans(),
    detached_sign=st.booleans(),
    gap1=spaces, gap2=spaces, gap3=spaces,
    pad=st.integers(0, 4),
    unit=unit,
    end=line_end,
    as_bytes=st.booleans(),
)
def test_weight_replies_in_every_tolerated_form(
    ident: str, status: str, digits: int, decimals: int, negative: bool, detached_sign: bool,
    gap1: str, gap2: str, gap3: str, pad: int, unit: tuple[str, float], end: str, as_bytes: bool,
) -> None:
    text = str(digits).rjust(decimals + 1, "0")
    number = f"{text[:-decimals]}.{text[-decimals:]}" if decimals else text
    sign = ("-" + (" " if detached_sign else "")) if negative else ""
    line = f"{' ' * pad}{ident}{gap1}{status}{gap2}{sign}{number}{gap3}{unit[0]}{end}"
    reply = sics.parse_reply(line.encode() if as_bytes else line)
    assert isinstance(reply, sics.Weighing)
    expected = digits / 10**decimals * unit[1] * (-1 if negative else 1)
    assert reply.mass_mg == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert reply.readability_mg == pytest.approx(unit[1] / 10**decimals)
    assert reply.stable is (status == "S")
    assert reply.command == ident


@given(
    ident=st.sampled_from(["S", "SI", "Z", "ZI", "T"]),
    status=st.sampled_from(["I", "+", "-", "L"]),
    gap=spaces, end=line_end, lower=st.booleans(),
)
def test_status_replies(ident: str, status: str, gap: str, end: str, lower: bool) -> None:
    line = f"{ident.lower() if lower else ident}{gap}{status}{end}"
    reply = sics.parse_reply(line)
    kind = {"I": sics.Busy, "+": sics.Overload, "-": sics.Underload, "L": sics.Refused}[status]
    assert reply == kind(ident)


@given(code=st.sampled_from(["ES", "ET", "EL"]), pad=spaces, end=line_end)
def test_error_codes(code: str, pad: str, end: str) -> None:
    assert sics.parse_reply(f"{pad}{code}{pad}{end}") == sics.CommandError(code)


@given(serial=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"'),
                      min_size=1, max_size=20), gap=spaces, end=line_end)
def test_quoted_texts(serial: str, gap: str, end: str) -> None:
    reply = sics.parse_reply(f'I4{gap}A{gap}"{serial}"{end}')
    assert reply == sics.Acknowledged("I4", "A", (serial,))


def test_texts_with_spaces_and_acknowledgements() -> None:
    assert sics.parse_reply('I2 A "XPR205 220.00000 g"') == sics.Acknowledged(
        "I2", "A", ("XPR205 220.00000 g",))
    assert sics.parse_reply("Z A\r\n") == sics.Acknowledged("Z", "A", ())
    assert sics.parse_reply("ZI D") == sics.Acknowledged("ZI", "D", ())


@given(st.binary(max_size=80))
def test_any_bytes_give_a_reply_or_a_typed_error(data: bytes) -> None:
    try:
        reply = sics.parse_reply(data)
    except BalanceError:
        return
    assert isinstance(reply, sics.Weighing | sics.Acknowledged | sics.Busy | sics.Overload
                      | sics.Underload | sics.Refused | sics.CommandError)


@pytest.mark.parametrize("line", [b"", b"\r\n", b"\xff\xfe\r\n", b"S", b"hello world", b"S S abc g",
                                  b"12.3 g", b"S S 1.0"])
def test_not_mt_sics(line: bytes) -> None:
    with pytest.raises(BalanceGarbled):
        sics.parse_reply(line)
