"""`mesodrive devices`: list serial ports and USB injectors, with the URL to open each.

`--json` prints one JSON object per device and line (url, kind, description, serial_number,
is_injector), for scripts.

`--sim-usb` (hidden; for tests and demos only) scans the simulator's pyusb backend instead of
libusb, so the simulated injector is listed as a USB device. That device lives only inside
this process: its URL cannot be opened by a later `mesodrive` command.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from mesodrive.cli.exit_codes import ExitCode
from mesodrive.driver.discovery import DeviceInfo, list_devices


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "devices",
        help="list serial ports and USB injectors",
        description="List serial ports and USB injectors, with the URL to open each.",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--sim-usb", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    notes: list[str] = []
    backend = _sim_backend() if args.sim_usb else None
    try:
        devices = list_devices(usb_backend=backend, notes=notes)
    finally:
        if backend is not None:
            backend.close()
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        for dev in devices:
            print(json.dumps(dataclasses.asdict(dev)))
    else:
        _print_table(devices)
    return ExitCode.OK


def _sim_backend() -> Any:
    # Only the demo/test path needs the simulator.
    from mesosim.config import SimConfig
    from mesosim.transports import usb as simusb

    return simusb.backend(SimConfig())


def _print_table(devices: list[DeviceInfo]) -> None:
    if not devices:
        print("no devices found")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("URL", "kind", "serial", "description", ""):
        table.add_column(column, overflow="fold")  # fold, not cut: a URL must stay whole
    for d in devices:
        marker = "injector" if d.is_injector else ""
        table.add_row(d.url, d.kind, d.serial_number or "-", d.description, marker)
    # Piped output is for grep/awk: never wrap a row (a terminal still gets its own width).
    console = Console() if sys.stdout.isatty() else Console(width=1000)
    console.print(table)
