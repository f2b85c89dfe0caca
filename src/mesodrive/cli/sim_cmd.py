"""`mesodrive sim`: serve the simulated injector on a raw pty or a loopback TCP port.

    mesodrive sim --pty                      # prints e.g. /dev/pts/7
    mesodrive sim --tcp 127.0.0.1:0          # prints e.g. socket://127.0.0.1:40123
    mesodrive sim --pty --balance-pty --gauge-pty
                                             # /dev/pts/7, then "balance /dev/pts/8",
                                             # then "gauge /dev/pts/9"

The first line on stdout is the one thing a client needs (the pty path or the pyserial URL).
With `--balance-pty` / `--gauge-pty` a calibration rig is served (`mesosim.rig`): an MT-SICS
balance weighing what the simulated injector truly dispenses and a depth gauge reading its
needle's true protrusion, each on its own pty, announced by one more stdout line each
(`balance PATH`, `gauge PATH`, in that order). They work with `--pty` and `--tcp` alike.
Everything else goes to stderr. The simulator runs in real time until SIGINT or SIGTERM, then
exits 0. `--shot-log PATH` appends one JSON line per shot the device executes (its truth log),
flushed at once, for comparing against the host's records.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import urllib.parse
from types import FrameType
from typing import Any

from mesodrive.cli.exit_codes import ExitCode

EXIT_OK, EXIT_USAGE, EXIT_DEVICE = ExitCode.OK, ExitCode.USAGE, ExitCode.DEVICE


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "sim",
        help="serve the simulated injector on a pty or TCP port",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--pty", action="store_true", help="serve on a new raw pty and print its path"
    )
    where.add_argument(
        "--tcp",
        metavar="HOST:PORT",
        help="serve on a loopback TCP port (PORT 0 picks one) and print its socket:// URL",
    )
    p.add_argument("--seed", type=int, metavar="N", help="random seed of the simulation")
    p.add_argument(
        "--faults", metavar="SPEC", help="scheduled device faults, e.g. occlusion@40,reboot@75"
    )
    p.add_argument("--link", metavar="SPEC", help="link faults, e.g. drop:0.01,corrupt:0.005")
    p.add_argument(
        "--config",
        metavar="QUERY",
        help="full SimConfig query string (seed=1&faults=...); the options above override it",
    )
    p.add_argument("--shot-log", metavar="PATH", help="append one JSON line per executed shot")
    p.add_argument("--quiet", action="store_true",
                   help="do not print a line on stderr for every shot the device executes")
    p.add_argument(
        "--balance-pty",
        action="store_true",
        help="also serve an MT-SICS balance weighing what the injector truly dispenses, on its "
        "own pty (stdout line 'balance PATH'); with --pty or --tcp",
    )
    p.add_argument(
        "--gauge-pty",
        action="store_true",
        help="also serve a depth gauge reading the needle's true protrusion, on its own pty "
        "(stdout line 'gauge PATH'); with --pty or --tcp",
    )
    p.set_defaults(func=run)


class _Say(logging.Handler):
    """A simulator event (a TCP client connected or left) as a line on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"mesodrive sim: {record.getMessage()}", file=sys.stderr, flush=True)


class ShotAnnouncer:
    """After each simulator step: one line on stderr per shot that finished (or lost its
    power), so whoever serves the simulator sees what the device really did."""

    def __init__(self) -> None:
        self._told = 0

    def __call__(self, device: Any) -> None:
        from mesosim.transports import inner_device

        log = getattr(inner_device(device), "executed_log", [])
        while self._told < len(log):
            e = log[self._told]
            if e.end_time is None and not e.power_lost:
                return  # still moving: told when it ends
            self._told += 1
            how = ("power lost while it moved" if e.power_lost else
                   f"{e.reported_depth_um / 1000:.2f} mm, {e.reported_delivered_nl / 1000:.2f} µL"
                   + (f", flags {e.flags:#x}" if e.flags else ""))
            print(f"mesodrive sim: shot {e.index} (session {e.session}): {how}", file=sys.stderr,
                  flush=True)


def _steps(*steps: Any) -> Any:
    """One after-step callable running each given one (None ones skipped)."""
    live = [s for s in steps if s is not None]

    def run(device: Any) -> None:
        for step in live:
            step(device)

    return run if live else None


def _usage_error(option: str, value: object, reason: object) -> int:
    print(f"mesodrive sim: error: {option} {value!r}: {reason}", file=sys.stderr)
    return EXIT_USAGE


def parse_hostport(text: str) -> tuple[str, int]:
    """`HOST:PORT` or `[v6]:PORT` -> (host, port); ValueError with the reason."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:0")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"port {port_text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is outside 0-65535")
    return host.strip("[]"), port


def build_query(args: argparse.Namespace) -> str:
    """The SimConfig query for these options (_OptionError names an option that is wrong).

    Each explicit option is parsed on its own first so an error names the option at fault."""
    from mesosim.config import SimConfig

    pairs: dict[str, str] = {}
    if args.config:
        try:
            SimConfig.from_query(args.config)
        except ValueError as exc:
            raise _OptionError("--config", args.config, exc) from None
        pairs.update(urllib.parse.parse_qsl(args.config.lstrip("?"), keep_blank_values=True))
    # option, query key, value, keys it replaces (aliases of the same SimConfig field)
    for option, key, value, replaces in (
        ("--seed", "seed", args.seed, ("seed",)),
        ("--faults", "faults", args.faults, ("faults", "shot_faults")),
        ("--link", "link", args.link, ("link",)),
    ):
        if value is None:
            continue
        for old in replaces:
            pairs.pop(old, None)
        single = urllib.parse.urlencode({key: str(value)})
        try:
            SimConfig.from_query(single)
        except ValueError as exc:
            raise _OptionError(option, value, exc) from None
        pairs[key] = str(value)
    pairs["realtime"] = "1"  # a pty or socket peer lives in wall-clock time
    return urllib.parse.urlencode(pairs, safe=":,")


class _OptionError(Exception):
    def __init__(self, option: str, value: object, reason: object) -> None:
        super().__init__(option, value, reason)
        self.option, self.value, self.reason = option, value, reason


def run(args: argparse.Namespace) -> int:
    from mesosim.config import SimConfig
    from mesosim.transports.shotlog import ShotLogWriter

    if args.tcp is not None:
        try:
            host, port = parse_hostport(args.tcp)
            from mesosim.transports.tcp_server import check_loopback

            check_loopback(host)
        except ValueError as exc:
            return _usage_error("--tcp", args.tcp, exc)
    try:
        query = build_query(args)
    except _OptionError as err:
        return _usage_error(err.option, err.value, err.reason)
    try:
        config = SimConfig.from_query(query)
    except ValueError as exc:  # each option parsed alone, but not together
        return _usage_error("options", query, exc)

    shot_log: ShotLogWriter | None = None
    if args.shot_log:
        try:
            shot_log = ShotLogWriter(args.shot_log)
        except OSError as exc:
            return _usage_error("--shot-log", args.shot_log, exc.strerror or exc)

    if not args.quiet:  # who connects over TCP (a pty has no connection to tell of)
        tcp_log = logging.getLogger("mesosim.transports.tcp_server")
        tcp_log.setLevel(logging.INFO)
        tcp_log.addHandler(_Say(logging.INFO))
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    old_handlers = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    rig: Any = None
    try:
        from mesosim.rig import CalibrationRig
        from mesosim.transports.runner import dedicate_process_to_device

        dedicate_process_to_device()  # this process is the device: frames are stamped at once

        want_balance = bool(getattr(args, "balance_pty", False))
        want_gauge = bool(getattr(args, "gauge_pty", False))
        try:
            rig = CalibrationRig(
                config,
                injector="pty" if args.pty else "tcp",
                instruments="pty",
                balance=want_balance,
                gauge=want_gauge,
                tcp_address=(host, port) if args.tcp is not None else ("127.0.0.1", 0),
                after_step=_steps(shot_log, None if args.quiet else ShotAnnouncer()),
            )
        except OSError as exc:
            if args.tcp is None:
                raise
            return _usage_error("--tcp", args.tcp, exc.strerror or exc)
        where = rig.address("injector")
        print(where, flush=True)
        for name in ("balance", "gauge"):
            if name in rig.names:
                print(f"{name} {rig.address(name)}", flush=True)
        extras = "".join(f", {name} on {rig.address(name)}" for name in rig.names[1:])
        print(
            f"mesodrive sim: serving the simulated injector (serial {config.serial}, "
            f"seed {config.seed}) on {where}{extras}; SIGINT/SIGTERM to stop",
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(0.2):
            try:
                rig.check()
            except Exception as exc:  # noqa: BLE001 - the device or its I/O died
                print(f"mesodrive sim: simulator failed: {exc}", file=sys.stderr, flush=True)
                return EXIT_DEVICE
        return EXIT_OK
    finally:
        if rig is not None:
            rig.close()
        if shot_log is not None:
            if rig is not None:
                shot_log(rig.injector)  # entries of the very last step
            shot_log.close()
        for s, handler in old_handlers.items():
            signal.signal(s, handler)
