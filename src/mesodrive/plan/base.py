"""Shared pydantic building blocks: strict, frozen models that reject unknown keys.

Strict means a TOML ``depth_mm = "2"`` or ``= true`` is an error, not a silent conversion.
Text that names things is normalised (NFKC) and refuses invisible characters (`text`).
Sequences are the exception: TOML only has arrays, so tuple fields accept lists (``Seq``), while
their items stay strict. Numbers must be finite: TOML allows ``nan`` and ``inf`` literals.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict

from mesodrive.plan.text import check_path_text, check_visible_text, normalise_name

# A finite number; an int is accepted for it (TOML ``2`` for ``2.0``), a bool or string is not.
Num = Annotated[float, Strict(), Field(allow_inf_nan=False)]
PosNum = Annotated[float, Strict(), Field(allow_inf_nan=False, gt=0)]
NonNegNum = Annotated[float, Strict(), Field(allow_inf_nan=False, ge=0)]
# An (x, y) pair in mm; TOML arrays are accepted, their items must be numbers.
Vec2 = Annotated[tuple[Num, Num], Strict(False)]
PosVec2 = Annotated[tuple[PosNum, PosNum], Strict(False)]
# Names identify things (zones, patients, products): NFKC-normalised, invisible characters
# refused (text.py), so what looks the same is the same. Labels and prose are only checked.
Name = Annotated[str, BeforeValidator(normalise_name), Strict(), Field(min_length=1, max_length=64)]
Label = Annotated[str, BeforeValidator(check_visible_text), Strict(),
                  Field(min_length=1, max_length=64)]
FreeText = Annotated[str, BeforeValidator(check_visible_text), Strict(), Field(max_length=500)]
# A file reference: never normalised, refuses invisible characters, bounded (PATH_MAX).
FilePath = Annotated[str, BeforeValidator(check_path_text), Strict(),
                     Field(min_length=1, max_length=4096)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
