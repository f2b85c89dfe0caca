"""A calibration profile on disk (JSON), so `mesodrive calibrate` can hand its result to the
driver (`Injector.connect(url, profile=load_profile(path))`) and start the next calibration
from it. Strict: unknown keys or values the driver refuses are errors, never defaults."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from mesodrive.calibration.errors import CalibrationInputError
from mesodrive.driver.calibration_profile import CalibrationProfile

__all__ = ["load_profile", "save_profile"]


class _ProfileFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    depth_scale: float
    depth_offset_mm: float
    volume_gain: float
    volume_offset_ul: float


def save_profile(profile: CalibrationProfile, path: Path) -> None:
    data = _ProfileFile(name=profile.name, depth_scale=profile.depth_scale,
                        depth_offset_mm=profile.depth_offset_mm, volume_gain=profile.volume_gain,
                        volume_offset_ul=profile.volume_offset_ul)
    path.write_text(data.model_dump_json(indent=2) + "\n", encoding="utf-8")


def load_profile(path: Path) -> CalibrationProfile:
    try:
        data = _ProfileFile.model_validate(json.loads(path.read_text(encoding="utf-8")))
        return CalibrationProfile(**data.model_dump())
    except OSError as exc:
        raise CalibrationInputError(f"cannot read profile {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, ValidationError, ValueError) as exc:
        raise CalibrationInputError(f"{path} is not a usable calibration profile: {exc}") from None
