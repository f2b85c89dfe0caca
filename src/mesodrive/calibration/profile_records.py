"""A calibration's profile kept in the records database (`records.profiles`), where treatments
find it: the profile to start a calibration from, and the new profile stored once it passed.

Why the records and not a file: a treatment applies the newest valid profile of its device
automatically, and a profile changes every shot, so it must be tamper-evident like the shots.
A profile is stored only when its certificate passed, as one row (one transaction): a failed or
interrupted calibration never leaves a half-written or unchecked profile behind.
"""

from __future__ import annotations

import json
from pathlib import Path

from mesodrive.calibration.certificate import Certificate
from mesodrive.calibration.errors import CalibrationInputError
from mesodrive.driver.calibration_profile import IDENTITY, CalibrationProfile
from mesodrive.records import (
    NewProfile,
    NoDatabaseError,
    RecordStore,
    StoredProfile,
)
from mesodrive.records.profiles import CORRECTIONS

__all__ = ["applied_profile", "certificate_of", "new_profile", "profile_in_use"]


def applied_profile(stored: StoredProfile) -> CalibrationProfile:
    """The driver's profile for a stored one (as a treatment applies it)."""
    try:
        return CalibrationProfile(name=stored.name, profile_id=stored.id, **stored.corrections)
    except ValueError as exc:
        raise CalibrationInputError(f"stored calibration profile {stored.id} cannot be "
                                    f"applied: {exc}") from None


def profile_in_use(db: Path | str | None, serial: str,
                   needle: str) -> tuple[CalibrationProfile, StoredProfile | None]:
    """The profile a treatment of this device would apply today (the identity if none): what a
    calibration measures "as found" and builds on. Read-only: no database, no profile."""
    try:
        with RecordStore(db, readonly=True, key=None) as store:
            active = store.profile_lookup(serial, needle).active
    except NoDatabaseError:
        return IDENTITY, None
    return (IDENTITY, None) if active is None else (applied_profile(active), active)


def new_profile(certificate: Certificate, profile: CalibrationProfile, *, calibration: str,
                needle: str, base: StoredProfile | None) -> NewProfile:
    """The record of a passed calibration's profile. It is valid until the certificate expires,
    and no longer than the stored profile it built on: the corrections it kept from that one
    were certified only until then."""
    if not certificate.passed:
        raise ValueError(f"certificate {certificate.certificate_id} did not pass: its profile "
                         f"must not be stored")
    expires = certificate.expires if base is None else min(certificate.expires, base.expires)
    return NewProfile(
        device_serial=certificate.device_serial, needle=needle,
        technician=certificate.technician, certificate_id=certificate.certificate_id,
        expires=expires, calibration=calibration, name=profile.name,
        corrections={k: float(getattr(profile, k)) for k in CORRECTIONS},
        certificate=json.loads(certificate.to_json()),
        based_on=None if base is None else base.id)


def certificate_of(stored: StoredProfile) -> Certificate:
    """The stored certificate as the certificate type (to print it again)."""
    try:
        return Certificate.model_validate(stored.certificate)
    except ValueError as exc:
        raise CalibrationInputError(f"the certificate of calibration profile {stored.id} "
                                    f"cannot be read back: {exc}") from None

