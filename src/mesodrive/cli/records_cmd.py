"""`mesodrive records`: verify, list, show and export the treatment records.

    mesodrive records [--db PATH] verify
    mesodrive records [--db PATH] list
    mesodrive records [--db PATH] show SESSION
    mesodrive records [--db PATH] export SESSION --format csv|json [-o FILE]

The database defaults to the user data directory (`RecordStore.default_path()`). Every
subcommand opens it read-only: looking at records never creates or changes one.

Exit codes: 0 ok · 1 `verify` found an altered or missing row (named on stdout) · 2 no database
at that path, not a records database, or no such session.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from mesodrive.records import RecordsError, RecordStore, SessionDetail, UnknownSessionError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "records", help="verify, list, show and export treatment records",
        description="Tamper-evident treatment records: verify the hash chain, list sessions, "
                    "show one, export it as CSV or JSON.")
    db_help = f"records database (default: {RecordStore.default_path()})"
    p.add_argument("--db", type=Path, default=None, help=db_help)
    actions = p.add_subparsers(dest="records_command", required=True, metavar="ACTION")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        a: argparse.ArgumentParser = actions.add_parser(name, help=help_text,
                                                        description=help_text)
        # --db also after the action; SUPPRESS keeps an absent one from hiding the outer one.
        a.add_argument("--db", type=Path, default=argparse.SUPPRESS, help=db_help)
        return a

    action("verify", "check the hash chain; name the first altered or missing row"
           ).set_defaults(func=_verify)
    action("list", "list sessions").set_defaults(func=_list)
    show = action("show", "show one session: header, shots, alarms, operator actions")
    show.add_argument("session", type=int, metavar="SESSION")
    show.set_defaults(func=_show)
    exp = action("export", "export one session as CSV (one line per shot) or JSON (all)")
    exp.add_argument("session", type=int, metavar="SESSION")
    exp.add_argument("--format", choices=["csv", "json"], required=True)
    exp.add_argument("-o", "--output", type=Path, default=None,
                     help="write to FILE instead of stdout")
    exp.set_defaults(func=_export)


def _open(args: argparse.Namespace) -> RecordStore:
    path = args.db if args.db is not None else RecordStore.default_path()
    return RecordStore(path, readonly=True)


def _guarded(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Map the records' input errors to exit 2 with a message that names the path or session."""

    def run(args: argparse.Namespace) -> int:
        path = args.db if args.db is not None else RecordStore.default_path()
        try:
            return int(fn(args))
        except FileNotFoundError:
            print(f"error: no records database at {path}", file=sys.stderr)
        except UnknownSessionError as exc:
            print(f"error: no session {exc.session_id} in {path}", file=sys.stderr)
        except RecordsError as exc:
            print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    return run


@_guarded
def _verify(args: argparse.Namespace) -> int:
    with _open(args) as store:
        result = store.verify()
    if result.ok:
        print(f"OK: {result.rows_checked} rows verified, chain intact ({store.path})")
        print(f"chain head: {result.head_hash}")
        return EXIT_OK
    # Plain print, not a rich table: the row number must survive any terminal width.
    print(f"FAILED: {result.problem}")
    print(f"{result.rows_checked} rows verified before it ({store.path})")
    return EXIT_FAILED


@_guarded
def _list(args: argparse.Namespace) -> int:
    with _open(args) as store:
        sessions = store.sessions()
    console = Console()
    if not sessions:
        console.print(f"no sessions in {store.path}")
        return EXIT_OK
    table = Table(title=f"sessions in {store.path}", box=box.SIMPLE_HEAD)
    # Sized for 80 columns (the plan hash and full timestamps are in `show`): only the free
    # text columns may wrap, so figures are never cut.
    for col, right in [("id", True), ("started UTC", False), ("status", False),
                       ("patient", False), ("product", False), ("points", True), ("µL", True),
                       ("unc.", True)]:
        free = col in ("patient", "product")
        table.add_column(col, justify="right" if right else "left", no_wrap=not free,
                         overflow="fold" if free else "ellipsis")
    for s in sessions:
        planned = "?" if s.points_planned is None else str(s.points_planned)
        table.add_row(str(s.id), _when(s.started_at), s.status, s.patient_ref or "",
                      s.product_id or "", f"{s.points_done}/{planned}",
                      f"{s.volume_delivered_ul:.1f}", str(s.uncertain_shots))
    console.print(table)
    return EXIT_OK


@_guarded
def _show(args: argparse.Namespace) -> int:
    with _open(args) as store:
        detail = store.session(args.session)
    _print_detail(Console(), detail)
    return EXIT_OK


def _print_detail(console: Console, d: SessionDetail) -> None:
    s = d.summary
    header = Table.grid(padding=(0, 2))
    header.add_column(style="bold")
    header.add_column()
    planned = "?" if s.points_planned is None else str(s.points_planned)
    for key, value in [
        ("session", f"{s.id} (device session {s.device_session})"),
        ("status", s.status), ("started", s.started_at), ("ended", s.ended_at or "-"),
        ("patient", s.patient_ref or "-"), ("product", s.product_id or "-"),
        ("mode", s.mode), ("operator", d.operator or "-"), ("plan hash", s.plan_hash),
        ("device", ", ".join(f"{k}={v}" for k, v in d.device.items()) or "-"),
        ("points", f"{s.points_done}/{planned}"),
        ("volume", f"{s.volume_delivered_ul:.2f} µL delivered"),
        ("uncertain", str(s.uncertain_shots)),
    ]:
        header.add_row(key, value)
    console.print(header)

    shots = Table(title="shots (latest state)", box=box.SIMPLE_HEAD)
    for col in ["#", "point", "state", "depth mm", "reached", "vol µL", "delivered",
                "peak kPa", "reason"]:
        shots.add_column(col, justify="left" if col in ("state", "reason") else "right")
    for r in d.shots:
        m = r.measured or {}
        shots.add_row(str(r.index), str(r.point), r.state, _num(r.requested.get("depth_mm")),
                      _num(m.get("reached_depth_mm")), _num(r.requested.get("volume_ul")),
                      _num(m.get("delivered_ul")), _num(m.get("peak_pressure_kpa")), r.reason)
    console.print(shots)
    if d.alarms:
        alarms = Table(title="alarms")
        for col in ["time", "code", "detail"]:
            alarms.add_column(col)
        for a in d.alarms:
            alarms.add_row(_when(a.ts), a.code, a.detail)
        console.print(alarms)
    if d.actions:
        actions = Table(title="operator actions")
        for col in ["time", "action", "operator", "reason"]:
            actions.add_column(col)
        for act in d.actions:
            actions.add_row(_when(act.ts), act.action, act.operator or "", act.reason)
        console.print(actions)


@_guarded
def _export(args: argparse.Namespace) -> int:
    with _open(args) as store:
        if args.output is None:
            store.export(args.session, args.format, sys.stdout)
        else:
            store.session(args.session)  # unknown session: fail before creating the file
            with open(args.output, "w", encoding="utf-8", newline="") as out:
                store.export(args.session, args.format, out)
            print(f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def _when(ts: str) -> str:
    return ts.replace("T", " ")[:16]  # to the minute: the full stamp is in show/export


def _num(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
