"""Load and check `messages.toml`, and compute the schema hash.

Used by the code generators (and their staleness test); the runtime packages never read the
TOML file, they use the generated modules.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CATALOGUE_PATH = HERE / "messages.toml"

# wire type -> (size in bytes, struct format char, min, max)
SCALARS: dict[str, tuple[int, str, int, int]] = {
    "u8": (1, "B", 0, 2**8 - 1),
    "u16": (2, "H", 0, 2**16 - 1),
    "u32": (4, "I", 0, 2**32 - 1),
    "u64": (8, "Q", 0, 2**64 - 1),
    "i32": (4, "i", -(2**31), 2**31 - 1),
}
_STR = re.compile(r"^str(\d+)$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
CHANNELS = ("seq", "unseq", "oob")
DIRECTIONS = ("host", "device", "both")


class CatalogueError(ValueError):
    """messages.toml is malformed; the message names the offending entry."""


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    unit: str | None = None
    range: tuple[int, int] | None = None
    enum: str | None = None
    doc: str = ""

    @property
    def is_str(self) -> bool:
        return self.type.startswith("str")

    @property
    def size(self) -> int:
        m = _STR.match(self.type)
        return int(m.group(1)) if m else SCALARS[self.type][0]

    @property
    def struct_code(self) -> str:
        return f"{self.size}s" if self.is_str else SCALARS[self.type][1]

    def effective_range(self, cat: Catalogue) -> tuple[int, int] | None:
        """The valid range: explicit, else an enum's span, else None (any wire value)."""
        if self.range is not None:
            return self.range
        if self.enum is not None:
            values = cat.enum(self.enum).values.values()
            return (min(values), max(values))
        return None

    @property
    def wire_min(self) -> int:
        return 0 if self.is_str else SCALARS[self.type][2]

    @property
    def wire_max(self) -> int:
        return 0 if self.is_str else SCALARS[self.type][3]


@dataclass(frozen=True)
class MessageDef:
    name: str
    id: int
    direction: str
    channel: str
    doc: str
    fields: tuple[FieldDef, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.fields)

    @property
    def struct_format(self) -> str:
        return "<" + "".join(f.struct_code for f in self.fields)

    @property
    def class_name(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("_"))


@dataclass(frozen=True)
class EnumDef:
    name: str
    doc: str
    values: dict[str, int]
    bitmask: bool = False


@dataclass(frozen=True)
class Catalogue:
    protocol: dict[str, int]
    enums: tuple[EnumDef, ...]
    messages: tuple[MessageDef, ...] = field(default_factory=tuple)

    def enum(self, name: str) -> EnumDef:
        return next(e for e in self.enums if e.name == name)

    def canonical(self) -> dict[str, Any]:
        """Everything that affects the wire, without prose: the input of the schema hash."""
        return {
            "protocol": dict(sorted(self.protocol.items())),
            "enums": {e.name: dict(sorted(e.values.items())) for e in self.enums},
            "bitmasks": sorted(e.name for e in self.enums if e.bitmask),
            "messages": [
                {
                    "name": m.name,
                    "id": m.id,
                    "direction": m.direction,
                    "channel": m.channel,
                    "fields": [
                        {
                            "name": f.name,
                            "type": f.type,
                            "unit": f.unit,
                            "range": list(f.range) if f.range else None,
                            "enum": f.enum,
                        }
                        for f in m.fields
                    ],
                }
                for m in sorted(self.messages, key=lambda m: m.id)
            ],
        }

    @property
    def schema_hash(self) -> int:
        blob = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":")).encode()
        return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big")


def _field(msg: str, raw: dict[str, Any], enums: dict[str, EnumDef]) -> FieldDef:
    where = f"message {msg!r} field {raw.get('name')!r}"
    unknown = set(raw) - {"name", "type", "unit", "range", "enum", "doc"}
    if unknown:
        raise CatalogueError(f"{where}: unknown keys {sorted(unknown)}")
    name, typ = raw.get("name"), raw.get("type")
    if not isinstance(name, str) or not _NAME.match(name):
        raise CatalogueError(f"{where}: bad name")
    if typ not in SCALARS and not (isinstance(typ, str) and _STR.match(typ)):
        raise CatalogueError(f"{where}: unknown type {typ!r}")
    rng = raw.get("range")
    fd = FieldDef(
        name=name,
        type=typ,
        unit=raw.get("unit"),
        range=(int(rng[0]), int(rng[1])) if rng is not None else None,
        enum=raw.get("enum"),
        doc=raw.get("doc", ""),
    )
    if fd.range is not None and (
        fd.is_str or not (fd.wire_min <= fd.range[0] <= fd.range[1] <= fd.wire_max)
    ):
        raise CatalogueError(f"{where}: range {list(fd.range)} does not fit {typ}")
    if fd.enum is not None:
        if fd.enum not in enums:
            raise CatalogueError(f"{where}: unknown enum {fd.enum!r}")
        if max(enums[fd.enum].values.values()) > fd.wire_max:
            raise CatalogueError(f"{where}: enum {fd.enum} does not fit {typ}")
    return fd


def load(path: Path = CATALOGUE_PATH) -> Catalogue:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    protocol = {k: int(v) for k, v in raw["protocol"].items()}
    enums = {
        name: EnumDef(
            name,
            body.get("doc", ""),
            {k: int(v) for k, v in body["values"].items()},
            bool(body.get("bitmask", False)),
        )
        for name, body in raw.get("enums", {}).items()
    }
    messages: list[MessageDef] = []
    seen_ids: dict[int, str] = {}
    for m in raw["message"]:
        name = m["name"]
        if not _NAME.match(name):
            raise CatalogueError(f"message {name!r}: bad name")
        mid = int(m["id"])
        if not 0 <= mid <= 0xFF:
            raise CatalogueError(f"message {name!r}: id {mid} does not fit u8")
        if mid in seen_ids:
            raise CatalogueError(f"message {name!r}: id {mid:#04x} already used by {seen_ids[mid]!r}")
        seen_ids[mid] = name
        if m["direction"] not in DIRECTIONS:
            raise CatalogueError(f"message {name!r}: direction {m['direction']!r}")
        if m["channel"] not in CHANNELS:
            raise CatalogueError(f"message {name!r}: channel {m['channel']!r}")
        fields = tuple(_field(name, f, enums) for f in m.get("fields", []))
        names = [f.name for f in fields]
        if len(set(names)) != len(names):
            raise CatalogueError(f"message {name!r}: duplicate field names")
        md = MessageDef(name, mid, m["direction"], m["channel"], m.get("doc", ""), fields)
        if md.size > protocol["max_payload"]:
            raise CatalogueError(f"message {name!r}: payload {md.size} > max_payload")
        messages.append(md)
    return Catalogue(protocol, tuple(enums.values()), tuple(messages))
