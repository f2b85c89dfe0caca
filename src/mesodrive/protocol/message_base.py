"""Base class of the generated messages: field metadata and range checks.

Generated messages are immutable NamedTuple subclasses with this class first in their MRO, so
that equality also compares the message type (two messages of different types with the same
field values are not equal).
"""

from __future__ import annotations

import enum
import struct
from typing import Any, ClassVar, NamedTuple, cast


class Channel(enum.Enum):
    """How a message travels (PROTOCOL.md §5)."""

    SEQ = "seq"  # sequenced, reliable, in order
    UNSEQ = "unseq"  # datagram: may be lost; queries are retried with a fresh token
    OOB = "oob"  # datagram processed before anything else (e-stop)


class FieldSpec(NamedTuple):
    name: str
    type: str
    unit: str | None
    enum: str | None
    min: int  # valid range if `has_range`, else the wire type's range
    max: int
    has_range: bool

    @property
    def str_size(self) -> int:
        return int(self.type[3:]) if self.type.startswith("str") else 0


class RangeError(ValueError):
    """A field value lies outside its valid range; names the message, field, value and range."""

    def __init__(self, message: str, field: str, value: object, lo: int, hi: int) -> None:
        self.message_name, self.field, self.value, self.lo, self.hi = message, field, value, lo, hi
        super().__init__(f"{message}.{field} = {value!r} is outside [{lo}, {hi}]")


class StringFieldError(ValueError):
    """A received strN field is not a valid string (PROTOCOL.md §1): its value (the bytes before
    the first 0x00) is not well-formed UTF-8, or a non-zero byte follows the 0x00 padding.
    The codec reports it as the undecodable frame error `bad_string`."""

    def __init__(self, message: str, field: str, raw: bytes, reason: str) -> None:
        self.message_name, self.field, self.raw = message, field, raw
        super().__init__(f"{message}.{field} = {raw.hex()}: {reason}")


def decode_str(raw: bytes, message: str, field: str) -> str:
    """The value of a received strN field, strictly (PROTOCOL.md §1); StringFieldError if bad.

    Python's strict UTF-8 codec is the protocol's definition of well-formed: it refuses
    overlong forms, surrogates (U+D800-DFFF), anything above U+10FFFF and a sequence cut short.
    """
    value = raw.rstrip(b"\0")
    if b"\0" in value:
        raise StringFieldError(message, field, raw, "non-zero byte after the 0x00 padding")
    try:
        return value.decode()
    except UnicodeDecodeError as exc:
        raise StringFieldError(
            message, field, raw, f"invalid UTF-8 at byte {exc.start} ({exc.reason})"
        ) from None


def str_fits(value: object, size: int) -> bool:
    """Can `value` be sent in a strN field of `size` bytes? Text without U+0000 (it would read as
    padding) whose UTF-8 form (no lone surrogates) has at most `size` bytes."""
    try:
        return isinstance(value, str) and "\0" not in value and len(value.encode()) <= size
    except UnicodeEncodeError:  # e.g. a lone surrogate: not sendable as UTF-8
        return False


class Message:
    """A decoded message. Subclasses are generated from messages.toml."""

    __slots__ = ()
    MSG_ID: ClassVar[int]
    NAME: ClassVar[str]
    CHANNEL: ClassVar[Channel]
    DIRECTION: ClassVar[str]
    STRUCT: ClassVar[struct.Struct]
    FIELDS: ClassVar[tuple[FieldSpec, ...]]

    def pack(self) -> bytes:
        raise NotImplementedError

    @classmethod
    def unpack(cls, payload: bytes) -> Message:
        raise NotImplementedError

    def _encode_wire(self, seq: int, ack: int, check: bool) -> bytes:
        """Wire bytes of this message in one frame (generated: see `codec.encode_message`)."""
        raise NotImplementedError

    def check(self) -> None:
        """Raise the first RangeError, if any (generated subclasses do this fast)."""
        errors = self.range_errors()
        if errors:
            raise errors[0]

    def range_errors(self) -> list[RangeError]:
        """Every field outside its valid range (empty when the message is valid)."""
        errors = []
        for spec in self.FIELDS:
            value = getattr(self, spec.name)
            if spec.str_size:
                if not str_fits(value, spec.str_size):
                    errors.append(RangeError(self.NAME, spec.name, value, 0, spec.str_size))
            elif (
                not isinstance(value, int)
                or isinstance(value, bool)
                or not spec.min <= value <= spec.max
            ):
                errors.append(RangeError(self.NAME, spec.name, value, spec.min, spec.max))
        return errors

    def as_dict(self) -> dict[str, Any]:
        return {spec.name: getattr(self, spec.name) for spec in self.FIELDS}

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and tuple.__eq__(cast("tuple[Any, ...]", self), other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = tuple.__hash__

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items())
        return f"{type(self).__name__}({inner})"
