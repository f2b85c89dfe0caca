"""Shared pydantic building blocks: strict, frozen models that reject unknown keys.

Strict means a TOML ``depth_mm = "2"`` or ``= true`` is an error, not a silent conversion.
Sequences are the exception: TOML only has arrays, so tuple fields accept lists (``Seq``), while
their items stay strict. Numbers must be finite: TOML allows ``nan`` and ``inf`` literals.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict

# A finite number; an int is accepted for it (TOML ``2`` for ``2.0``), a bool or string is not.
Num = Annotated[float, Strict(), Field(allow_inf_nan=False)]
PosNum = Annotated[float, Strict(), Field(allow_inf_nan=False, gt=0)]
NonNegNum = Annotated[float, Strict(), Field(allow_inf_nan=False, ge=0)]
# An (x, y) pair in mm; TOML arrays are accepted, their items must be numbers.
Vec2 = Annotated[tuple[Num, Num], Strict(False)]
PosVec2 = Annotated[tuple[PosNum, PosNum], Strict(False)]
Name = Annotated[str, Strict(), Field(min_length=1, max_length=64)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
