"""MT-SICS reply lines → typed values. Pure: no I/O, so it can be property-tested.

Real balances differ in small ways and all of them are accepted: CR LF, LF or CR line ends;
one or several spaces between fields; the value right-aligned in a padded field or not;
the sign directly before the digits or separated by spaces; unit `g`, `G`, `mg`, `MG`.
Weights are converted to milligrams here, in `_to_mg`, and nowhere else in mesodrive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mesodrive.calibration.errors import BalanceGarbled, UnsupportedUnit

__all__ = [
    "Acknowledged",
    "Busy",
    "CommandError",
    "Overload",
    "Refused",
    "Reply",
    "Underload",
    "Weighing",
    "parse_reply",
]

# Milligrams per unit. Only mass units a lab balance shows for water; anything else
# (ct, oz, custom units) is refused so a wrong unit can never slip into a volume.
_MG_PER_UNIT = {"kg": 1e6, "g": 1e3, "mg": 1.0, "ug": 1e-3, "µg": 1e-3}

_TOKEN = re.compile(r'"[^"]*"|\S+')
_ID = re.compile(r"[A-Z@][A-Z0-9]*\Z")
# "<sign> <digits> <unit>" after id and status; the sign may be detached, the unit attached.
_WEIGHT = re.compile(r"(?P<sign>[+-]?)\s*(?P<num>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[A-Za-zµ]+)\Z")


@dataclass(frozen=True, slots=True)
class Weighing:
    """A weight reply: `S S 12.34567 g` (stable) or `S D …` (dynamic)."""

    command: str
    stable: bool
    mass_mg: float
    readability_mg: float  # one digit of the value as shown


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """`<id> A …` or a done-status without weight (`Z A`, `ZI S`, `I4 A "B220000001"`)."""

    command: str
    status: str
    texts: tuple[str, ...]  # quoted strings with the quotes removed, other fields as is


@dataclass(frozen=True, slots=True)
class Busy:
    """`<id> I`: not executable now (busy, or not stable within the balance's own timeout)."""

    command: str


@dataclass(frozen=True, slots=True)
class Overload:
    command: str


@dataclass(frozen=True, slots=True)
class Underload:
    command: str


@dataclass(frozen=True, slots=True)
class Refused:
    """`<id> L`: the command-specific form of a logical error."""

    command: str


@dataclass(frozen=True, slots=True)
class CommandError:
    """`ES` (syntax), `ET` (transmission) or `EL` (logical): no command id in the reply."""

    code: str


Reply = Weighing | Acknowledged | Busy | Overload | Underload | Refused | CommandError


def _to_mg(value: float, unit: str) -> float:
    """The one unit conversion of a balance reading."""
    factor = _MG_PER_UNIT.get(unit.lower() if unit != "µg" else unit)
    if factor is None:
        raise UnsupportedUnit(f"the balance shows the unit {unit!r}; set it to g or mg")
    return value * factor


def _decode(line: bytes | str) -> str:
    if isinstance(line, bytes):
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError:
            try:  # some balances send "µg" in Latin-1
                text = line.decode("latin-1")
            except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
                raise BalanceGarbled(f"not text: {line[:40]!r}") from None
    else:
        text = line
    text = text.strip(" \t\r\n")
    if not text or not _printable(text):
        raise BalanceGarbled(f"not an MT-SICS reply: {line[:40]!r}")
    return text


def _printable(text: str) -> bool:
    # ASCII printable plus "µ"; anything else (0x80-0xFF noise of a wrong baud rate) is garbage.
    return all(" " <= ch <= "~" or ch in "\tµ" for ch in text)


def parse_reply(line: bytes | str) -> Reply:
    """One reply line (with or without its line end) → a typed reply.

    Raises `BalanceGarbled` for anything that is not an MT-SICS reply and `UnsupportedUnit`
    for a weight in a unit we do not convert."""
    text = _decode(line)
    tokens = _TOKEN.findall(text)
    head = tokens[0].upper()
    if len(tokens) == 1:
        if head in ("ES", "ET", "EL"):
            return CommandError(head)
        raise BalanceGarbled(f"a reply without status: {text!r}")
    if not _ID.match(head):
        raise BalanceGarbled(f"not an MT-SICS command id: {text!r}")
    status = tokens[1].upper()
    rest = text.split(None, 2)[2] if len(tokens) > 2 else ""
    if status == "I":
        return Busy(head)
    if status == "+":
        return Overload(head)
    if status == "-" and not rest:
        return Underload(head)
    if status == "L":
        return Refused(head)
    if status in ("S", "D", "A", "B") and rest and not rest.startswith('"'):
        match = _WEIGHT.match(rest)
        if match is not None:
            return _weighing(head, status, match)
    if status in ("A", "B", "S", "D") and (not rest or rest.startswith('"') or head[0] == "I"):
        texts = tuple(t[1:-1] if t.startswith('"') else t for t in tokens[2:])
        return Acknowledged(head, status, texts)
    raise BalanceGarbled(f"not an MT-SICS reply: {text!r}")


def _weighing(command: str, status: str, match: re.Match[str]) -> Weighing:
    number = match["num"]
    decimals = len(number.split(".", 1)[1]) if "." in number else 0
    value = float(number) * (-1.0 if match["sign"] == "-" else 1.0)
    unit = match["unit"]
    return Weighing(
        command=command,
        stable=status != "D",
        mass_mg=_to_mg(value, unit),
        readability_mg=_to_mg(10.0**-decimals, unit),
    )
