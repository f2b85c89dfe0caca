"""Stored calibration profiles for tests, without a calibration run: a real (passed) certificate
built from made-up gauge readings, stored through the records' own API."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from mesodrive.calibration.certificate import build_certificate, depth_record
from mesodrive.calibration.fits import DepthPoint
from mesodrive.calibration.limits import load_limits
from mesodrive.driver.calibration_profile import IDENTITY, CalibrationProfile
from mesodrive.records import NewProfile, RecordStore

LIMITS = Path(__file__).resolve().parents[2] / "calibration" / "limits.toml"
TODAY = dt.datetime.now(dt.UTC).date()
# A correction the simulator's default device does not need: what matters is that commanded
# values differ from requested ones by exactly this profile.
CORRECTIONS = {"depth_scale": 0.95, "depth_offset_mm": -0.05, "volume_gain": 1.04,
               "volume_offset_ul": 0.1}


def new_profile(serial: str = "SIM-0001", *, needle: str = "standard",
                expires: dt.date | None = None, **corrections: float) -> NewProfile:
    values = {**CORRECTIONS, **corrections}
    limits = load_limits(LIMITS)
    after = CalibrationProfile(name=f"{serial}-depth-test", **values)
    cert = build_certificate(
        device_serial=serial, device_firmware="test", technician="QA Bench", limits=limits,
        limits_source=str(LIMITS), profile_before=IDENTITY, profile_after=after,
        depth_after=[depth_record(DepthPoint(2.5, 2.5, (2.5, 2.5)), limits)])
    assert cert.passed
    return NewProfile(device_serial=serial, needle=needle, technician="QA Bench",
                      certificate_id=cert.certificate_id,
                      expires=expires if expires is not None else TODAY + dt.timedelta(days=30),
                      calibration="depth", name=after.name, corrections=values,
                      certificate=json.loads(cert.to_json()))


def store_profile(db: Path, profile: NewProfile | None = None) -> int:
    with RecordStore(db) as store:
        return store.record_profile(profile if profile is not None else new_profile())
