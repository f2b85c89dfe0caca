"""`mesodrive calibrate`: the technician's calibration commands (calibration/PROCEDURES.md).

    mesodrive calibrate balance --balance URL [--baud N] [--timeout S]
    mesodrive calibrate dose  --device URL --balance URL --technician NAME
                              --water-temp C --pressure HPA --humidity PCT [--air-temp C]
                              [--needle TYPE] [--db FILE] [--limits FILE] [--profile FILE]
                              [--out DIR] [--profile-out FILE]
    mesodrive calibrate depth --device URL --gauge URL --technician NAME
                              [--needle TYPE] [--db FILE] [--limits FILE] [--profile FILE]
                              [--out DIR] [--profile-out FILE]
    mesodrive calibrate list | show ID | certificate ID -o FILE   (calibrate_profiles)

`balance` checks the bench balance before a calibration: it identifies it (model, serial
number), zeroes it, reads one stable weight and prints it with its unit and readability —
or says exactly what is wrong. `dose` and `depth` run a whole calibration: as found with the
profile in use (the newest valid one stored for the device and needle type; `--profile FILE`
for another), fit, as left with the new profile, then write the certificate (JSON and printable
HTML) to `--out` and, if it passed, store the new profile in the records database (`--db`),
where every treatment of that device finds it; `--profile-out` also writes it as JSON.
URLs are anything pyserial opens: `/dev/ttyUSB0`, a pty path, `socket://host:port`.

Exit codes: 0 ok (for dose/depth: every as-left point within its limit) · 1 the job ran but
did not succeed (a check or a limit failed, a shot failed; the certificate says FAIL) ·
2 bad usage or input (environment, limits or profile file, records path, unknown profile id) ·
1 also for a damaged records file · 3 the device or an instrument
cannot be reached (port cannot be opened, no answer, garbage: wrong baud rate).
No traceback is ever printed; set MESODRIVE_DEBUG=1 to see one for an internal error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mesodrive.calibration.balance import MtSicsBalance
from mesodrive.calibration.errors import (
    BalanceGarbled,
    BalanceLinkError,
    BalanceTimeout,
    BalanceTransmissionError,
    CalibrationError,
    CalibrationInputError,
    GaugeGarbled,
    GaugeLinkError,
    GaugeTimeout,
    InjectorFaulted,
    InjectorUnavailable,
    LimitsError,
)
from mesodrive.cli.calibrate_profiles import register_actions, store_profile
from mesodrive.records import (
    DamagedRecordsError,
    DbPathError,
    KeyRequiredError,
    NoDatabaseError,
    RecordsError,
    RecordStore,
    UnknownProfileError,
)

DEFAULT_NEEDLE = "standard"  # as `mesodrive run` (controller.treatment_profile.DEFAULT_NEEDLE)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DEVICE = 0, 1, 2, 3

# The repository's limits (a source checkout); an installed copy is given with --limits.
_DEFAULT_LIMITS = Path(__file__).resolve().parents[3] / "calibration" / "limits.toml"

# Errors that mean "cannot talk to it" (exit 3); every other CalibrationError is a failed check.
_UNREACHABLE = (BalanceLinkError, BalanceTimeout, BalanceGarbled, BalanceTransmissionError,
                GaugeLinkError, GaugeTimeout, GaugeGarbled, InjectorUnavailable)
_BAD_INPUT = (CalibrationInputError, LimitsError)

_HINTS: list[tuple[type[CalibrationError], str]] = [
    (BalanceTimeout, ("check that the balance is on, the cable is connected, and the port and "
                     "baud rate (--baud) match the balance's interface settings")),
    (BalanceGarbled, ("the bytes are not MT-SICS: most often the baud rate (--baud) or the "
                     "data format (8N1) differs from the balance's settings")),
    (BalanceTransmissionError, "set the same baud rate and 8N1 on the balance and here"),
    (GaugeTimeout, "check that the gauge is on, connected, and its output set to RS-232"),
    (InjectorUnavailable, "check the injector's cable and URL (`mesodrive devices` lists them)"),
    (InjectorFaulted, ("fix the cause of the fault, then power-cycle the injector to clear it "
                      "(calibration/PROCEDURES.md, 'When a check fails')")),
]


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "calibrate", help="technician's calibration: balance check, dose, depth, certificates",
        description="Calibration commands for technicians (calibration/PROCEDURES.md).")
    actions = p.add_subparsers(dest="calibrate_command", required=True, metavar="ACTION")
    bal: argparse.ArgumentParser = actions.add_parser(
        "balance", help="identify, zero and read the balance",
        description="Identify the balance, zero it and read one stable weight.")
    _balance_options(bal)
    bal.set_defaults(func=_guarded(check_balance))

    dose: argparse.ArgumentParser = actions.add_parser(
        "dose", help="gravimetric dose calibration (ISO 8655-6): as found, fit, as left",
        description="Gravimetric dose calibration: weigh shots as found, fit volume gain and "
                    "offset, weigh again with the new profile, write the certificate.")
    _device_options(dose)
    _balance_options(dose)
    env = dose.add_argument_group("environment (measured at the bench)")
    env.add_argument("--water-temp", type=float, metavar="C", help="water temperature, °C")
    env.add_argument("--air-temp", type=float, metavar="C",
                     help="air temperature, °C (default: the water temperature)")
    env.add_argument("--pressure", type=float, metavar="HPA", help="air pressure, hPa")
    env.add_argument("--humidity", type=float, metavar="PCT", help="relative humidity, %%")
    dose.add_argument("--balance-repeatability", type=_positive_float, metavar="MG",
                      help="σ of one weighing from the balance's certificate "
                           "(default: one digit)")
    unc = dose.add_argument_group("standard uncertainties of the bench instruments")
    unc.add_argument("--u-water-temp", type=_positive_float, default=0.2, metavar="C",
                     help="thermometer (default 0.2 °C)")
    unc.add_argument("--u-pressure", type=_positive_float, default=1.0, metavar="HPA",
                     help="barometer (default 1 hPa)")
    unc.add_argument("--u-humidity", type=_positive_float, default=5.0, metavar="PCT",
                     help="hygrometer (default 5 %%RH)")
    dose.add_argument("--blank", type=float, default=60.0, metavar="S",
                      help="evaporation blank duration (default 60 s, at least 30; 0 = none, "
                           "for volumes of 50 µL and more)")
    dose.set_defaults(func=_guarded(run_dose))

    depth: argparse.ArgumentParser = actions.add_parser(
        "depth", help="depth calibration with a depth gauge: as found, fit, as left",
        description="Depth calibration: read the needle at each test depth as found, fit "
                    "scale and offset, read again with the new profile, write the certificate.")
    _device_options(depth)
    depth.add_argument("--gauge", metavar="URL", required=True, help="the depth gauge's port")
    depth.add_argument("--gauge-baud", type=_positive_int, default=9600, metavar="N",
                       help="the gauge's baud rate (default 9600)")
    depth.set_defaults(func=_guarded(run_depth))
    register_actions(actions, _guarded)


def _device_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", metavar="URL", required=True, help="the injector's URL")
    p.add_argument("--technician", metavar="NAME", required=True,
                   help="who performs the calibration (on the certificate)")
    p.add_argument("--limits", type=Path, default=None, metavar="FILE",
                   help=f"acceptance limits (default: {_DEFAULT_LIMITS})")
    p.add_argument("--needle", metavar="TYPE", default=DEFAULT_NEEDLE,
                   help=f"needle/syringe type fitted (default: {DEFAULT_NEEDLE}); the profile "
                        f"is for this type")
    p.add_argument("--db", type=Path, default=None, metavar="FILE",
                   help="records database where profiles are kept (default: "
                        f"{RecordStore.default_path()})")
    p.add_argument("--profile", type=Path, default=None, metavar="FILE",
                   help="start from this profile file instead of the stored one in use")
    p.add_argument("--out", type=Path, default=Path("."), metavar="DIR",
                   help="where the certificate goes, JSON and HTML (default: here)")
    p.add_argument("--profile-out", type=Path, default=None, metavar="FILE",
                   help="also write the new profile as JSON (only if it passed)")
    p.add_argument("--time-warp", type=_positive_float, default=1.0, help=argparse.SUPPRESS)


def _balance_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--balance", metavar="URL", required=True,
                   help="the balance's port: /dev/ttyUSB0, a pty path, socket://host:port")
    p.add_argument("--baud", type=_positive_int, default=9600, metavar="N",
                   help="baud rate (default 9600, 8N1)")
    p.add_argument("--timeout", type=_positive_float, default=30.0, metavar="S",
                   help="how long one stable weighing may take (default 30 s)")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


class _OneLine(logging.Formatter):
    """Library warnings as one plain line: a technician never sees a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def _guarded(action: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Map every calibration error to its message, hint and exit code; never a traceback."""

    def run(args: argparse.Namespace) -> int:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_OneLine())
        handler.setLevel(logging.WARNING)
        root = logging.getLogger()
        root.addHandler(handler)
        try:
            return action(args)
        except CalibrationError as exc:
            print(f"error: {exc}", file=sys.stderr)
            for kind, hint in _HINTS:
                if isinstance(exc, kind):
                    print(f"hint: {hint}", file=sys.stderr)
                    break
            if isinstance(exc, _UNREACHABLE):
                return EXIT_DEVICE
            return EXIT_USAGE if isinstance(exc, _BAD_INPUT) else EXIT_FAILED
        except RecordsError as exc:
            print(f"error: records: {exc}", file=sys.stderr)
            usage = (NoDatabaseError, DbPathError, KeyRequiredError, UnknownProfileError)
            if isinstance(exc, DamagedRecordsError) or not isinstance(exc, usage):
                print("hint: `mesodrive records verify` checks the whole file", file=sys.stderr)
                return EXIT_FAILED
            return EXIT_USAGE
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug: say so plainly, no traceback
            if os.environ.get("MESODRIVE_DEBUG"):
                traceback.print_exc()
            print(f"internal error: {type(exc).__name__}: {exc} "
                  "(please report it; MESODRIVE_DEBUG=1 shows the details)", file=sys.stderr)
            return EXIT_FAILED
        finally:
            root.removeHandler(handler)

    return run


def _open_balance(args: argparse.Namespace) -> MtSicsBalance:
    return MtSicsBalance.open(args.balance, baudrate=args.baud, stable_timeout_s=args.timeout,
                              busy_retries=1)


def _mg(value_mg: float, readability_mg: float) -> str:
    decimals = max(0, min(6, round(-_log10(readability_mg))))
    return f"{value_mg:.{decimals}f} mg"


def _log10(x: float) -> float:
    import math

    return math.log10(x) if x > 0 else 0.0


def check_balance(args: argparse.Namespace) -> int:
    with _open_balance(args) as balance:
        balance.reset()
        ident = balance.identify()
        print(f"balance: {ident.model} (serial {ident.serial_number}) on {args.balance}")
        balance.zero()
        print("zeroed")
        weight = balance.weigh()
        print(f"stable weight: {_mg(weight.mass_mg, weight.readability_mg)} "
              f"(readability {weight.readability_mg:g} mg)")
        print("balance OK")
    return EXIT_OK


# ----- dose and depth ------------------------------------------------------------------------
def _setup(args: argparse.Namespace) -> tuple[Any, str, Any]:
    """Limits, their source, and the timebase (time-warped for tests); checks --out and the
    records path before any instrument or device is touched."""
    from mesodrive.calibration.limits import load_limits
    from mesodrive.driver.timebase import Timebase
    from mesodrive.records import db_path_problem

    limits_path = args.limits or _DEFAULT_LIMITS
    limits = load_limits(limits_path)
    if not args.out.is_dir():
        raise CalibrationInputError(f"--out {args.out}: not a directory")
    if (problem := db_path_problem(args.db, create=True)) is not None:
        raise CalibrationInputError(f"--db: {problem}")
    return limits, str(limits_path), Timebase(args.time_warp)


def _profile_before(args: argparse.Namespace, connect: Any) -> tuple[Any, Any]:
    """The profile in use (what "as found" measures and the new profile builds on) and, when it
    is a stored one, its record: --profile FILE, else the newest valid one stored for the
    device (whose serial a short first connection reads) and needle type, else the identity."""
    from mesodrive.calibration.profile_file import load_profile
    from mesodrive.calibration.profile_records import profile_in_use
    from mesodrive.driver.calibration_profile import IDENTITY

    if args.profile:
        return load_profile(args.profile), None
    injector = connect(IDENTITY)
    try:
        serial = str(injector.capabilities.serial)
    finally:
        injector.close()
    profile, stored = profile_in_use(args.db, serial, args.needle)
    print(f"as found with {'the identity (no stored profile)' if stored is None else ''}"
          f"{'' if stored is None else f'calibration profile {stored.id} ({stored.name})'}")
    return profile, stored


def _print_progress(progress: Any) -> None:
    print(f"[{progress.label} {progress.step}/{progress.total}] {progress.message}", flush=True)


def _connector(args: argparse.Namespace, timebase: Any) -> Any:
    from mesodrive.calibration.device import connect_injector

    options = {"timebase": timebase} if args.time_warp != 1.0 else {}
    return connect_injector(args.device, **options)


def _write_outputs(args: argparse.Namespace, outcome: Any, calibration: str, base: Any) -> int:
    from mesodrive.calibration.certificate_html import render_html
    from mesodrive.calibration.profile_file import save_profile

    cert = outcome.certificate
    stem = args.out / cert.certificate_id
    stem.with_suffix(".json").write_text(cert.to_json() + "\n", encoding="utf-8")
    stem.with_suffix(".html").write_text(render_html(cert), encoding="utf-8")
    p = outcome.profile
    print(f"new profile {p.name}: depth scale {p.depth_scale:.5f}, depth offset "
          f"{p.depth_offset_mm:+.4f} mm, volume gain {p.volume_gain:.5f}, volume offset "
          f"{p.volume_offset_ul:+.4f} µL")
    print(f"certificate {cert.certificate_id}: {'PASS' if cert.passed else 'FAIL'} "
          f"-> {stem}.html, {stem}.json")
    store_profile(args, outcome, calibration, base)
    if cert.passed and args.profile_out is not None:
        save_profile(p, args.profile_out)
        print(f"profile also written to {args.profile_out}")
    return EXIT_OK if cert.passed else EXIT_FAILED


def run_dose(args: argparse.Namespace) -> int:
    from mesodrive.calibration.environment import Environment
    from mesodrive.calibration.procedure import calibrate_dose

    environment = Environment.from_mapping({
        "water_temperature_c": args.water_temp, "air_pressure_hpa": args.pressure,
        "relative_humidity_pct": args.humidity, "air_temperature_c": args.air_temp})
    limits, source, tb = _setup(args)
    connect = _connector(args, tb)
    with _open_balance(args) as balance:  # the instrument first, as before profiles were kept
        profile, base = _profile_before(args, connect)
        outcome = calibrate_dose(
            connect, balance, environment=environment, limits=limits,
            limits_source=source, technician=args.technician, profile_before=profile,
            blank_s=args.blank, balance_repeatability_mg=args.balance_repeatability,
            u_water_temperature_c=args.u_water_temp, u_air_pressure_hpa=args.u_pressure,
            u_relative_humidity_pct=args.u_humidity,
            progress=_print_progress, clock=tb.now, sleep=tb.sleep)
    for title, records in (("as found", outcome.certificate.dose_before),
                           ("as left", outcome.certificate.dose_after)):
        for r in records:
            print(f"{title:>8} {r.volume_ul:6g} µL: mean {r.mean_ul:.4f} µL, e_s "
                  f"{r.systematic_error_pct:+.3f} % (±{r.verdict.max_systematic_error_pct:g}), "
                  f"CV {r.cv_pct:.3f} % (≤{r.verdict.max_cv_pct:g}), U {r.uncertainty.expanded_ul:.4f}"
                  f" µL  {'PASS' if r.verdict.passed else 'FAIL'}")
    return _write_outputs(args, outcome, "dose", base)


def run_depth(args: argparse.Namespace) -> int:
    from mesodrive.calibration.gauge import DepthGaugeClient
    from mesodrive.calibration.procedure import calibrate_depth

    limits, source, tb = _setup(args)
    connect = _connector(args, tb)
    with DepthGaugeClient.open(args.gauge, baudrate=args.gauge_baud) as gauge:
        profile, base = _profile_before(args, connect)
        outcome = calibrate_depth(
            connect, gauge, limits=limits, limits_source=source,
            technician=args.technician, profile_before=profile, progress=_print_progress,
            clock=tb.now, sleep=tb.sleep)
    for title, records in (("as found", outcome.certificate.depth_before),
                           ("as left", outcome.certificate.depth_after)):
        for r in records:
            shown = r.verdict.note if r.error_mm is None else (
                f"mean {r.mean_mm:.4f} mm, error {r.error_mm:+.4f} mm (±{r.verdict.tolerance_mm:g})")
            print(f"{title:>8} {r.requested_mm:4g} mm: {shown}  "
                  f"{'PASS' if r.verdict.passed else 'FAIL'}")
    return _write_outputs(args, outcome, "depth", base)
