"""Link faults of a simulated serial line, one direction at a time (see `SimConfig`).

A small frozen dataclass rather than a pydantic model: positional, parsed from the compact
``drop:0.01,split:0.2`` form of a ``sim://`` URL, and validated by pydantic as a field of
`SimConfig`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from typing import ClassVar


@dataclass(frozen=True)
class LinkFaults:
    """Per-frame probabilities of link faults in one direction (applied by the transport).

    ``drop`` loses a frame, ``duplicate`` sends it twice, ``corrupt`` flips a byte, ``delay``
    holds it back (reordering it behind later frames), ``split`` delivers it in several chunks.
    """

    drop: float = 0.0
    duplicate: float = 0.0
    corrupt: float = 0.0
    delay: float = 0.0
    split: float = 0.0

    _ALIASES: ClassVar[dict[str, str]] = {
        "drop": "drop",
        "dup": "duplicate",
        "duplicate": "duplicate",
        "corrupt": "corrupt",
        "delay": "delay",
        "split": "split",
    }

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0 or math.isnan(value):
                raise ValueError(f"link fault {f.name}={value!r} is not a probability in [0, 1]")

    @property
    def any(self) -> bool:
        return any(getattr(self, f.name) > 0 for f in fields(self))

    @classmethod
    def parse(cls, spec: str, *, key: str = "link", base: LinkFaults | None = None) -> LinkFaults:
        """``"drop:0.01,dup:0.01,corrupt:0.01,delay:0.01,split:0.2"`` (missing kinds: ``base``)."""
        values: dict[str, float] = dataclasses.asdict(base) if base is not None else {}
        for raw in spec.split(","):
            item = raw.strip()
            if not item:
                continue
            name, sep, text = item.partition(":")
            name = name.strip().lower()
            if not sep or name not in cls._ALIASES:
                raise ValueError(
                    f"{key}: {item!r} is not kind:probability with kind in "
                    "drop, dup, corrupt, delay, split"
                )
            try:
                p = float(text)
            except ValueError:
                raise ValueError(f"{key}: {item!r}: {text!r} is not a number") from None
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{key}: {item!r}: probability must lie in [0, 1]")
            values[cls._ALIASES[name]] = p
        return cls(**values)

    def format(self) -> str:
        short = {"duplicate": "dup"}
        return ",".join(
            f"{short.get(f.name, f.name)}:{getattr(self, f.name):g}"
            for f in fields(self)
            if getattr(self, f.name) > 0
        )
