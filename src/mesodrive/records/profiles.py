"""Calibration profiles in the records: one journal row each, chained like every other row.

Why here and not in a file beside the device: a profile changes what every shot commands, so
it must be as tamper-evident as the shots (an altered profile row fails `records verify` like
an altered shot) and every shot row can name the profile it used by its journal id. A profile
row is never changed: a new calibration appends a new one, and the newest valid one wins.

A profile belongs to a device (its serial number) and a needle/syringe type; it was made by a
technician, carries its certificate (the whole certificate, so it can be printed again from the
records) and is valid through its `expires` day (UTC). Profile rows sit in session 0, which no
treatment session ever takes, so they never appear among sessions and are found by the
journal's (session, kind) index.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mesodrive.records.anchor import Head, append_head
from mesodrive.records.chain import canonical_json
from mesodrive.records.models import (
    KIND_PROFILE,
    PROFILE_SESSION,
    DamagedRecordsError,
    RecordsError,
)
from mesodrive.records.summary import parse_body

if TYPE_CHECKING:
    from mesodrive.records.writer import JournalWriter

__all__ = ["CORRECTIONS", "NewProfile", "ProfileLookup", "ProfileRecords", "StoredProfile",
           "UnknownProfileError", "select_profile"]

# The correction values of a profile, as the driver's CalibrationProfile names them.
CORRECTIONS = ("depth_scale", "depth_offset_mm", "volume_gain", "volume_offset_ul")


class UnknownProfileError(RecordsError, KeyError):
    """No calibration profile with that id in the database."""

    def __init__(self, profile_id: int) -> None:
        super().__init__(f"no calibration profile {profile_id}")
        self.profile_id = profile_id

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class NewProfile:
    """A profile to store: what a passed calibration produced."""

    device_serial: str
    needle: str  # needle/syringe type the calibration was made with
    technician: str
    certificate_id: str
    expires: dt.date  # last day it may be applied (UTC)
    calibration: str  # "dose" | "depth": what this calibration measured
    name: str
    corrections: dict[str, float]  # CORRECTIONS
    certificate: dict[str, Any] = field(repr=False)  # the certificate, as its JSON holds it
    based_on: int | None = None  # the stored profile it started from (its other corrections)

    def __post_init__(self) -> None:
        for name in ("device_serial", "needle", "technician", "certificate_id", "name"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"calibration profile: {name} = {value!r} must be a non-empty "
                                 f"text")
        if self.calibration not in ("dose", "depth"):
            raise ValueError(f"calibration profile: calibration = {self.calibration!r} must be "
                             f"'dose' or 'depth'")
        if sorted(self.corrections) != sorted(CORRECTIONS):
            raise ValueError(f"calibration profile: corrections {sorted(self.corrections)} must "
                             f"be exactly {list(CORRECTIONS)}")
        for key, value in self.corrections.items():
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"calibration profile: {key} = {value!r} is not a number")

    def to_body(self) -> dict[str, Any]:
        return {"device_serial": self.device_serial, "needle": self.needle,
                "technician": self.technician, "certificate_id": self.certificate_id,
                "expires": self.expires.isoformat(), "calibration": self.calibration,
                "name": self.name, "corrections": {k: float(v) for k, v in
                                                   self.corrections.items()},
                "based_on": self.based_on, "certificate": self.certificate}


@dataclass(frozen=True)
class StoredProfile:
    """A profile as stored: its journal row id is its id; `created` is the row's time."""

    id: int
    created: str  # UTC ISO-8601 (the row's timestamp)
    device_serial: str
    needle: str
    technician: str
    certificate_id: str
    expires: dt.date
    calibration: str
    name: str
    corrections: dict[str, float]
    based_on: int | None
    certificate: dict[str, Any] = field(repr=False, compare=False)

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    @classmethod
    def from_row(cls, path: Path, row_id: int, ts: str, body: dict[str, Any]) -> StoredProfile:
        """From a journal row; DamagedRecordsError naming the row if it is not what mesodrive
        writes (a profile row read back is applied to shots: nothing may be guessed)."""
        try:
            corrections = body["corrections"]
            values = {k: float(corrections[k]) for k in CORRECTIONS}
            if sorted(corrections) != sorted(CORRECTIONS) or not all(
                    map(math.isfinite, values.values())):
                raise ValueError(f"corrections {corrections!r}")
            based_on = body.get("based_on")
            certificate = body["certificate"]
            if not isinstance(certificate, dict):
                raise TypeError("the certificate is not an object")
            return cls(id=row_id, created=ts, device_serial=_text(body, "device_serial"),
                       needle=_text(body, "needle"), technician=_text(body, "technician"),
                       certificate_id=_text(body, "certificate_id"),
                       expires=dt.date.fromisoformat(_text(body, "expires")),
                       calibration=_text(body, "calibration"), name=_text(body, "name"),
                       corrections=values,
                       based_on=None if based_on is None else int(based_on),
                       certificate=certificate)
        except (KeyError, TypeError, ValueError) as exc:
            raise DamagedRecordsError(
                f"{path}: the records file is damaged: journal row {row_id} is not a "
                f"calibration profile as mesodrive writes it ({type(exc).__name__}: {exc})"
            ) from exc


def _text(body: dict[str, Any], key: str) -> str:
    value = body[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} = {value!r} is not a text")
    return value


@dataclass(frozen=True)
class ProfileLookup:
    """The profile to apply to a device with a needle type, on a day: `active` (None: none is
    valid) and `expired`, the newest expired one newer than `active` (to tell the operator)."""

    active: StoredProfile | None
    expired: StoredProfile | None


def select_profile(profiles: Iterable[StoredProfile], device_serial: str, needle: str,
                   today: dt.date) -> ProfileLookup:
    """The newest unexpired profile of this device and needle type; never another device's."""
    mine = sorted((p for p in profiles if p.device_serial == device_serial
                   and p.needle == needle), key=lambda p: p.id, reverse=True)
    active = next((p for p in mine if not p.expired(today)), None)
    newer = [p for p in mine if p.expired(today) and (active is None or p.id > active.id)]
    return ProfileLookup(active, newer[0] if newer else None)


class ProfileRecords:
    """The record store's calibration profiles (a part of `RecordStore`)."""

    path: Path

    if TYPE_CHECKING:
        def _w(self) -> JournalWriter: ...
        def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]: ...

    def record_profile(self, profile: NewProfile) -> int:
        """Append the profile (one row, one transaction: all of it or nothing) and return its
        id; durable on return. Its head then goes beside the database, as after a session."""
        writer = self._w()
        profile_id = writer.append_row(PROFILE_SESSION, KIND_PROFILE,
                                       canonical_json(profile.to_body()))
        if writer.last_head is not None:
            try:
                append_head(self.path, Head(*writer.last_head),
                            f"calibration profile {profile_id} stored")
            except OSError:
                pass  # the chain holds the profile; a missing extra head copy is not an error
        return profile_id

    def profiles(self, device_serial: str | None = None) -> list[StoredProfile]:
        """Stored profiles, oldest first: all, or one device's."""
        rows = self._read("SELECT id, ts, body FROM journal WHERE session = ? AND kind = ? "
                          "ORDER BY id", (PROFILE_SESSION, KIND_PROFILE))
        out = [StoredProfile.from_row(self.path, row_id, ts,
                                      parse_body(self.path, row_id, body))
               for row_id, ts, body in rows]
        return [p for p in out if device_serial is None or p.device_serial == device_serial]

    def stored_profile(self, profile_id: int) -> StoredProfile:
        if not 0 < profile_id < 2**63:
            raise UnknownProfileError(profile_id)
        rows = self._read("SELECT id, ts, body FROM journal WHERE id = ? AND session = ? AND "
                          "kind = ?", (profile_id, PROFILE_SESSION, KIND_PROFILE))
        if not rows:
            raise UnknownProfileError(profile_id)
        row_id, ts, body = rows[0]
        return StoredProfile.from_row(self.path, row_id, ts, parse_body(self.path, row_id, body))

    def profile_lookup(self, device_serial: str, needle: str,
                       today: dt.date | None = None) -> ProfileLookup:
        """The profile to apply now (`select_profile`); today: the UTC date by default."""
        day = today if today is not None else dt.datetime.now(dt.UTC).date()
        return select_profile(self.profiles(device_serial), device_serial, needle, day)
