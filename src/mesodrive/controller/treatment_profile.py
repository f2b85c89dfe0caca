"""Which calibration profile a treatment applies, and what the operator is told about it.

A treatment applies the newest unexpired profile stored for the connected device's serial
number and needle/syringe type (`records.profiles`), by installing it in the driver's
calibration hook (`Injector.profile`): from then on the driver commands the corrected depth and
volume, and every shot row names the profile's id. An expired profile is never applied: the
operator is told it expired. Without a valid profile a real device is refused (a device out of
calibration misses the dial), unless a technician gives a reason to treat uncalibrated, which
goes on the record; the simulator only warns. "Real" is the device's own identity
(`DeviceCapabilities.simulated`: a serial starting with SIM), not the URL it was reached by.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mesodrive.driver.calibration_profile import IDENTITY, CalibrationProfile
from mesodrive.driver.capabilities import DeviceCapabilities
from mesodrive.plan import PlannedPoint
from mesodrive.records import (
    DamagedRecordsError,
    NoDatabaseError,
    ProfileLookup,
    RecordStore,
    StoredProfile,
)

__all__ = ["DEFAULT_NEEDLE", "ProfileChoice", "driver_profile", "find_profile", "record_choice",
           "today", "unreachable"]

DEFAULT_NEEDLE = "standard"  # the needle/syringe type a calibration or a run names by default


def driver_profile(stored: StoredProfile, path: object = "the records") -> CalibrationProfile:
    """The driver's profile for a stored one; DamagedRecordsError if the driver refuses its
    values (only a row changed outside mesodrive can hold them: calibrate stores checked ones)."""
    try:
        return CalibrationProfile(name=stored.name, profile_id=stored.id, **stored.corrections)
    except ValueError as exc:
        raise DamagedRecordsError(f"{path}: calibration profile {stored.id} cannot be applied: "
                                  f"{exc}") from exc


def find_profile(db: Path | str | None, serial: str, needle: str,
                 today: dt.date | None = None) -> ProfileLookup:
    """The stored profiles' verdict for a device, read-only: no database is no profile (looking
    never creates one). Raises the records' errors for a damaged file."""
    try:
        with RecordStore(db, readonly=True, key=None) as store:
            return store.profile_lookup(serial, needle, today)
    except NoDatabaseError:
        return ProfileLookup(None, None)


def _day(ts: str) -> str:
    return ts[:10]


def unreachable(points: Iterable[PlannedPoint], profile: CalibrationProfile,
                caps: DeviceCapabilities) -> list[str]:
    """Planned points whose corrected (commanded) depth or volume is outside the device's own
    range: checked before a session starts, never found by a refused shot mid-treatment."""
    out: list[str] = []
    for p in points:
        for what, asked, told, lo, hi, unit in (
                ("depth", p.depth_mm, profile.commanded_depth_mm(p.depth_mm),
                 caps.depth_min_mm, caps.depth_max_mm, "mm"),
                ("volume", p.volume_ul, profile.commanded_volume_ul(p.volume_ul),
                 caps.volume_min_ul, caps.volume_max_ul, "µL")):
            if not lo <= told <= hi:
                out.append(f"point {p.point}: {what} {asked:g} {unit} needs a commanded "
                           f"{told:.3f} {unit} with calibration profile {profile.name!r}, "
                           f"outside the device's {lo:g}–{hi:g} {unit}")
    return out


@dataclass(frozen=True)
class ProfileChoice:
    """The calibration a treatment applies to one device, and why."""

    serial: str
    needle: str
    simulated: bool
    active: StoredProfile | None  # applied; None: none valid (the identity is applied)
    expired: StoredProfile | None  # the newest expired profile, not applied
    override: str | None = None  # a technician's reason to treat a real device uncalibrated
    profile: CalibrationProfile = IDENTITY  # what goes into the driver's hook

    @property
    def refused(self) -> bool:
        """A real device with no valid profile and no override: it must not treat."""
        return self.active is None and not self.simulated and not self.override

    def problem(self) -> str:
        """Why a real device is refused (for the front end, which adds how to override)."""
        return (f"the device {self.serial} has no valid calibration profile for needle type "
                f"{self.needle!r}{self._expired_note()}: it must not treat uncalibrated. "
                f"Calibrate it (`mesodrive calibrate dose` / `calibrate depth`), or a "
                f"technician states why treating uncalibrated is acceptable (recorded)")

    def _expired_note(self) -> str:
        e = self.expired
        return "" if e is None else f" (profile {e.id} expired on {e.expires.isoformat()})"

    def messages(self) -> list[tuple[str, str]]:
        """(level, text) lines for the operator: level "info" or "warning"."""
        out: list[tuple[str, str]] = []
        a, e = self.active, self.expired
        if a is not None:
            out.append(("info", (f"calibration profile {a.id} ({a.name}): {a.calibration} "
                                 f"calibration of {_day(a.created)} by {a.technician}, "
                                 f"certificate {a.certificate_id}, valid through "
                                 f"{a.expires.isoformat()} · needle {self.needle}")))
        if e is not None:
            out.append(("warning", (f"calibration profile {e.id} ({e.name}) expired on "
                                    f"{e.expires.isoformat()}: NOT applied; recalibrate the "
                                    f"device")))
        if a is None:
            if self.simulated:
                out.append(("warning", (f"no valid calibration profile for {self.serial} "
                                        f"(needle {self.needle}): the simulator runs "
                                        f"uncalibrated (commanded = requested)")))
            elif self.override:
                out.append(("warning", (f"no valid calibration profile for {self.serial} "
                                        f"(needle {self.needle}): treating UNCALIBRATED on a "
                                        f"technician's override (recorded): {self.override}")))
        return out

    def header(self) -> tuple[str, str]:
        """A short text for a status line and its level ("ok", "warning", "alarm")."""
        a, e = self.active, self.expired
        if a is not None:
            text = f"profile {a.id} · expires {a.expires.isoformat()}"
            return (text + (f" (profile {e.id} EXPIRED)" if e is not None else ""), "ok")
        what = (f"profile {e.id} EXPIRED {e.expires.isoformat()}" if e is not None
                else "NO calibration profile")
        if self.simulated or self.override:
            return (f"{what} · uncalibrated", "warning")
        return (f"{what} · will not treat", "alarm")

    def record(self) -> dict[str, Any]:
        """The session's `calibration` record: the values applied and where they came from."""
        a = self.active
        return {"profile": self.profile.name, **asdict(self.profile), "needle": self.needle,
                "device_serial": self.serial,
                "expires": None if a is None else a.expires.isoformat(),
                "certificate_id": None if a is None else a.certificate_id,
                "technician": None if a is None else a.technician,
                "expired_profile_id": None if self.expired is None else self.expired.id,
                "override": self.override}

    def action_text(self) -> str:
        """The operator-action line for the session's record (what was applied, or why not)."""
        return " · ".join(text for _, text in self.messages()) or "identity"

    @classmethod
    def of(cls, caps: DeviceCapabilities, lookup: ProfileLookup, needle: str,
           override: str | None, path: object = "the records") -> ProfileChoice:
        active = lookup.active
        profile = IDENTITY if active is None else driver_profile(active, path)
        reason = override.strip() if override and override.strip() else None
        return cls(caps.serial, needle, caps.simulated, active, lookup.expired,
                   reason if active is None else None, profile)


def today() -> dt.date:
    """The day profiles are valid on: UTC, as their expiry dates are."""
    return dt.datetime.now(dt.UTC).date()


def record_choice(store: RecordStore, session: int, choice: ProfileChoice) -> None:
    """The calibration applied, as an operator action (an override names its reason): after
    an override, and on resume (the session's start row holds the profile it began with)."""
    action = ("calibration-override" if choice.override else
              "calibration-profile" if choice.active is not None else "no-calibration-profile")
    store.record_action(session, action, choice.action_text())
