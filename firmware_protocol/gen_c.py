"""Generate the C header (placeholder until the C codec lands)."""

from __future__ import annotations

from catalogue import Catalogue


def generate(cat: Catalogue) -> str:
    return f"/* GENERATED — do not edit. schema hash {cat.schema_hash:#018x} */\n"
