"""`mesodrive calibrate list | show ID | certificate ID -o FILE`: the calibration profiles kept in
the records database, and storing a new one after a passed calibration.

    mesodrive calibrate list [--device-serial SERIAL] [--db FILE]
    mesodrive calibrate show ID [--db FILE]
    mesodrive calibrate certificate ID -o FILE.html|FILE.json [--db FILE]

Reading never creates or changes a database. A profile's id is its journal row id; `records
verify` covers profile rows like every other row.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from mesodrive.calibration.errors import CalibrationInputError
from mesodrive.records import RecordStore, StoredProfile

__all__ = ["register_actions", "store_profile"]


def register_actions(actions: Any, guarded: Any) -> None:
    """The list / show / certificate actions, under `mesodrive calibrate`."""
    ls: argparse.ArgumentParser = actions.add_parser(
        "list", help="the calibration profiles stored in the records",
        description="List the calibration profiles stored in the records database, newest "
                    "last, with their device, needle type, expiry and certificate.")
    ls.add_argument("--device-serial", metavar="SERIAL", help="only this device's profiles")
    _db_option(ls)
    ls.set_defaults(func=guarded(list_profiles))
    show: argparse.ArgumentParser = actions.add_parser(
        "show", help="one stored calibration profile",
        description="Show one stored calibration profile: its corrections, who made it and "
                    "when, its certificate and whether it is still valid.")
    show.add_argument("id", type=_profile_id, metavar="ID", help="profile id (`calibrate list`)")
    _db_option(show)
    show.set_defaults(func=guarded(show_profile))
    cert: argparse.ArgumentParser = actions.add_parser(
        "certificate", help="write a stored profile's certificate (HTML or JSON)",
        description="Write the certificate stored with a calibration profile: printable HTML "
                    "(-o FILE.html) or machine-readable JSON (-o FILE.json).")
    cert.add_argument("id", type=_profile_id, metavar="ID", help="profile id (`calibrate list`)")
    cert.add_argument("-o", "--output", type=Path, required=True, metavar="FILE",
                      help="where to write it: .html or .json")
    _db_option(cert)
    cert.set_defaults(func=guarded(write_certificate))


def _db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", type=Path, default=None, metavar="FILE",
                   help=f"records database (default: {RecordStore.default_path()})")


def _profile_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"profile id {text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"profile id {text} is not a positive number")
    return value


def _reader(args: argparse.Namespace) -> RecordStore:
    return RecordStore(args.db, readonly=True, key=None)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _validity(p: StoredProfile) -> str:
    return (f"EXPIRED {p.expires.isoformat()}" if p.expired(_today())
            else f"valid through {p.expires.isoformat()}")


def list_profiles(args: argparse.Namespace) -> int:
    with _reader(args) as store:
        profiles = store.profiles(args.device_serial)
    if not profiles:
        print("no calibration profiles stored" + (f" for {args.device_serial}"
                                                  if args.device_serial else ""))
        return 0
    for p in profiles:
        print(f"{p.id:>6}  {p.created[:19].replace('T', ' ')}  {p.device_serial}  "
              f"needle {p.needle}  {p.calibration:<5}  {p.technician}  {p.certificate_id}  "
              f"{_validity(p)}")
    return 0


def show_profile(args: argparse.Namespace) -> int:
    with _reader(args) as store:
        p = store.stored_profile(args.id)
    c = p.corrections
    lines = [("profile", f"{p.id} ({p.name})"), ("device", p.device_serial),
             ("needle/syringe", p.needle), ("calibration", p.calibration),
             ("created", p.created), ("technician", p.technician),
             ("certificate", p.certificate_id), ("validity", _validity(p)),
             ("based on", "-" if p.based_on is None else f"profile {p.based_on}"),
             ("depth", f"scale {c['depth_scale']:.5f}, offset {c['depth_offset_mm']:+.4f} mm"),
             ("volume", f"gain {c['volume_gain']:.5f}, offset {c['volume_offset_ul']:+.4f} µL")]
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        print(f"{key:<{width}}  {value}")
    return 0


def write_certificate(args: argparse.Namespace) -> int:
    from mesodrive.calibration.certificate_html import render_html
    from mesodrive.calibration.profile_records import certificate_of

    out: Path = args.output
    kind = out.suffix.lower()
    if kind not in (".html", ".json"):
        raise CalibrationInputError(f"-o {out}: the file must end in .html or .json")
    with _reader(args) as store:
        cert = certificate_of(store.stored_profile(args.id))
    text = render_html(cert) if kind == ".html" else cert.to_json() + "\n"
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CalibrationInputError(f"-o {out}: cannot write it: {exc.strerror or exc}") from None
    print(f"certificate {cert.certificate_id} of profile {args.id} -> {out}", file=sys.stderr)
    return 0


def store_profile(args: argparse.Namespace, outcome: Any, calibration: str,
                  base: StoredProfile | None) -> int | None:
    """Store a passed calibration's profile (one row: all of it or nothing) and say so; a failed
    one is not stored. Returns the new profile's id (None: not stored)."""
    from mesodrive.calibration.profile_records import new_profile

    cert = outcome.certificate
    if not cert.passed:
        print("profile NOT stored: the as-left check failed (the device keeps its current "
              "profile)")
        return None
    record = new_profile(cert, outcome.profile, calibration=calibration, needle=args.needle,
                         base=base)
    with RecordStore(args.db) as store:
        profile_id = store.record_profile(record)
    print(f"stored as calibration profile {profile_id} for {record.device_serial} (needle "
          f"{record.needle}), valid through {record.expires.isoformat()}, in {store.path}")
    return profile_id


def session_calibration(calibration: dict[str, Any], profile_ids: list[int | None]) -> str:
    """What `records show` says about a session's calibration: the profile it started with (or
    none, and why) and which profiles its shots were given with."""
    pid = calibration.get("profile_id")
    if pid is not None:
        text = (f"profile {pid} ({calibration.get('profile', '?')}), certificate "
                f"{calibration.get('certificate_id') or '-'}, valid through "
                f"{calibration.get('expires') or '-'}")
    else:
        text = f"{calibration.get('profile', 'identity')} (no stored profile)"
        if calibration.get("override"):
            text += f" — technician's override: {calibration['override']}"
    counts: dict[str, int] = {}
    for shot_profile in profile_ids:
        key = "none" if shot_profile is None else str(shot_profile)
        counts[key] = counts.get(key, 0) + 1
    if counts:
        text += " · shots by profile: " + ", ".join(f"{k} ×{n}" for k, n in counts.items())
    return text
