"""`mesodrive records`: verify, list, show and export the treatment records; anchor the head.

    mesodrive records [--db PATH] [--key-file FILE] verify [--expect-head ROWS:HASH ...]
    mesodrive records [--db PATH] list
    mesodrive records [--db PATH] show SESSION [--map FILE]
    mesodrive records [--db PATH] export SESSION --format csv|json [-o FILE]
    mesodrive records [--db PATH] anchor
    mesodrive records [--db PATH] course PATIENT      (cli.course_cmd)

The database defaults to the user data directory (`RecordStore.default_path()`). Every
subcommand opens it read-only: looking at records never creates or changes one (`anchor` only
appends a line to the heads file beside it). `list`, `show` and `export` verify the chain too
and warn on stderr when it does not verify; exports end with the chain's head.

Tables are rich tables only in a terminal wide enough to keep every word whole, else plain
aligned lines; through a pipe always plain lines, one record a line (`cli.tables`). `show
--map FILE` draws what happened at each point on the plan's map (`cli.pictures`); exports
carry each point's position and zone (`cli.session_plan` reads them from the session's plan).

Sessions of any length: `show` (`cli.records_show`) and `export` (`cli.records_output`) read a
session's shots as a stream and write each row as it is read; a reader that stops reading
(`| head`) ends them quietly, with exit code 0 (nothing is wrong with the records).

Stored text (patient refs, operators, reasons, alarm details) is never read as rich markup and
its control characters are shown escaped: a record must not be able to restyle or break the
screen that shows it.

Exit codes: 0 ok · 1 `verify` (or `anchor`) found an altered, missing or damaged row or a
head that no longer matches (named on stdout); `list`/`show`/`export` found the records file
damaged · 2 bad input: no database at that path, a --db that is a folder, not a file, not
readable or another program's file, not a records database, a keyed chain without its key, no
such session, a bad --expect-head, or an export path that cannot be written.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from mesodrive.cli import records_output
from mesodrive.cli.exit_codes import ExitCode
from mesodrive.cli.records_show import print_session, when
from mesodrive.cli.session_places import stored_places
from mesodrive.cli.tables import Column, cell, print_table
from mesodrive.records import (
    DamagedRecordsError,
    Head,
    KeyRequiredError,
    NoDatabaseError,
    RecordsError,
    RecordStore,
    SessionDetail,
    UnknownSessionError,
    VerifyResult,
    heads_path,
    load_key,
    parse_head,
    point_outcomes,
)

if TYPE_CHECKING:  # the plan package (pydantic, numpy) and matplotlib load only when needed
    from mesodrive.cli.session_plan import RecordedPlan

EXIT_OK, EXIT_FAILED, EXIT_USAGE = ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE
MAX_SESSION = 2**63 - 1  # SQLite's integer range


class _InputError(Exception):
    """A bad argument, with the message to show (exit 2)."""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "records", help="verify, list, show and export treatment records",
        description="Tamper-evident treatment records: verify the hash chain, list sessions, "
                    "show one, export it as CSV or JSON, anchor the chain's head.")
    db_help = f"records database (default: {RecordStore.default_path()})"
    key_help = ("key file of a keyed (HMAC) chain (default: the file named by "
                "MESODRIVE_RECORDS_KEY_FILE, if set)")
    p.add_argument("--db", type=Path, default=None, help=db_help)
    p.add_argument("--key-file", type=Path, default=None, help=key_help)
    actions = p.add_subparsers(dest="records_command", required=True, metavar="ACTION")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        a: argparse.ArgumentParser = actions.add_parser(name, help=help_text,
                                                        description=help_text)
        # Also after the action; SUPPRESS keeps an absent one from hiding the outer one.
        a.add_argument("--db", type=Path, default=argparse.SUPPRESS, help=db_help)
        a.add_argument("--key-file", type=Path, default=argparse.SUPPRESS, help=key_help)
        return a

    verify = action("verify", "check the hash chain; name the first altered or missing row; "
                              "print the chain's head")
    verify.add_argument("--expect-head", action="append", default=[], metavar="ROWS:HASH",
                        help="a head printed earlier (by verify, an export or the heads file): "
                             "fail if the journal no longer holds it (truncated, rolled back)")
    verify.set_defaults(func=_verify)
    action("anchor", "verify, then append the chain's head to the heads file beside the "
                     "database").set_defaults(func=_anchor)
    action("list", "list sessions").set_defaults(func=_list)
    show = action("show", "show one session: header, what happened at each point, alarms, "
                          "operator actions")
    show.add_argument("session", type=int, metavar="SESSION",
                      help="the session number (the first column of `records list`)")
    show.add_argument("--map", type=Path, default=None, metavar="FILE",
                      help="also draw what happened at each point on the plan's map "
                           "(PNG, SVG, PDF), as `plan show` draws the plan")
    show.set_defaults(func=_show)
    exp = action("export", "export one session as CSV (one line per shot, with its point's "
                           "x_mm, y_mm and zone) or JSON (all, and each point's position, zone "
                           "and outcome)")
    exp.add_argument("session", type=int, metavar="SESSION",
                     help="the session number (the first column of `records list`)")
    exp.add_argument("--format", choices=["csv", "json"], required=True,
                     help="csv (one row per shot state) or json (the whole session)")
    exp.add_argument("-o", "--output", type=Path, default=None,
                     help="write to FILE instead of stdout")
    exp.set_defaults(func=_export)
    from mesodrive.cli import course_cmd  # here: course_cmd uses this module's helpers

    course_cmd.register(action)


def _db(args: argparse.Namespace) -> Path:
    return Path(args.db) if args.db is not None else RecordStore.default_path()


def _open(args: argparse.Namespace) -> RecordStore:
    if args.key_file is not None:
        return RecordStore(_db(args), readonly=True, key=load_key(args.key_file))
    return RecordStore(_db(args), readonly=True)  # key from MESODRIVE_RECORDS_KEY_FILE, if set


def _guarded(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Map every expected failure to a message naming the thing and its value (no traceback)."""

    def run(args: argparse.Namespace) -> int:
        path = _db(args)
        try:
            return int(fn(args))
        except NoDatabaseError:
            _error(f"no records database at {path}")
        except UnknownSessionError as exc:
            _error(f"no session {exc.session_id} in {path}")
        except DamagedRecordsError as exc:
            _error(f"{exc}\n`mesodrive records verify` checks the whole file; restore a "
                   f"damaged file from a backup")
            return EXIT_FAILED
        except (RecordsError, _InputError) as exc:
            _error(str(exc))
        except BrokenPipeError:  # the reader of stdout went away (`| head`): nothing is wrong
            records_output.quiet_stdout()
            return EXIT_OK
        except OSError as exc:  # e.g. the heads file cannot be appended to
            _error(f"{exc.filename or path}: {exc.strerror or exc}")
        return EXIT_USAGE

    return run


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _session(number: int) -> int:
    if not 1 <= number <= MAX_SESSION:
        raise _InputError(f"session {number} is not a session number (1 to {MAX_SESSION})")
    return number


@_guarded
def _verify(args: argparse.Namespace) -> int:
    heads: list[Head] = []
    for text in args.expect_head:
        try:
            heads.append(parse_head(text))
        except ValueError as exc:
            raise _InputError(f"--expect-head: {exc}") from None
    with _open(args) as store:
        result = store.verify(heads)
    return _report(result, store)


def _report(result: VerifyResult, store: RecordStore) -> int:
    # Plain print, not a rich table: the row number must survive any terminal width.
    if not result.ok:
        print(f"FAILED: {result.problem}")
        before = " before it" if result.first_bad_row is not None else ""
        print(f"{result.rows_checked} rows verified{before} ({store.path})")
        return EXIT_FAILED
    keyed = ", keyed (HMAC-SHA256)" if result.keyed else ""
    print(f"OK: {result.rows_checked} rows verified, chain intact{keyed} ({store.path})")
    for note in result.notes:
        print(f"  {note}")
    print(f"chain head: {result.head}")
    print("  keep this head elsewhere; `mesodrive records verify --expect-head HEAD` later "
          "shows whether rows were removed or the file was replaced by an older copy")
    return EXIT_OK


@_guarded
def _anchor(args: argparse.Namespace) -> int:
    with _open(args) as store:
        result = store.write_anchor("records anchor")
    code = _report(result, store)
    if code == EXIT_OK:
        print(f"appended to {heads_path(store.path)}")
    return code


def _warn_unverified(verify: Callable[[], VerifyResult]) -> None:
    """Warn (stderr) when what is about to be shown comes from a chain that does not verify."""
    try:
        result = verify()
    except KeyRequiredError as exc:
        print(f"warning: not verified: {exc}", file=sys.stderr)
        return
    if not result.ok:
        print(f"warning: these records do not verify: {result.problem}\n"
              f"warning: what follows may have been altered; run `mesodrive records verify`",
              file=sys.stderr)


def _console() -> Console:
    return Console(highlight=False)


_t = cell  # stored text as shown: control characters escaped, never markup


_LIST_COLUMNS = [Column("id", right=True), Column("started UTC"), Column("status"),
                 Column("points", right=True), Column("µL", right=True),
                 Column("unc.", right=True), Column("product", free=True),
                 Column("patient", free=True)]


@_guarded
def _list(args: argparse.Namespace) -> int:
    with _open(args) as store:
        sessions = store.sessions()
        _warn_unverified(store.verify)
    console = _console()
    if not sessions:
        console.file.write(f"no sessions in {_t(store.path)}\n")
        return EXIT_OK
    # Figures and timestamps never wrap (the plan hash and full timestamps are in `show`);
    # the free text goes last, so the plain form only ever wraps that.
    rows = [[_t(s.id), _t(when(s.started_at)), _t(s.status),
             _t(f"{s.points_done}/{'?' if s.points_planned is None else s.points_planned}"),
             _t(f"{s.volume_delivered_ul:.1f}"), _t(s.uncertain_shots), _t(s.product_id),
             _t(s.patient_ref)] for s in sessions]
    print_table(console, _LIST_COLUMNS, rows, title=f"sessions in {_t(store.path)}")
    return EXIT_OK


@_guarded
def _show(args: argparse.Namespace) -> int:
    map_path: Path | None = args.map
    if map_path is not None:
        return _show_with_map(args, map_path)
    with _open(args) as store, store.verification() as check:  # verified beside the reading
        header = store.session_header(_session(args.session))
        print_session(_console(), header, lambda: store.point_outcomes(header),
                      before_output=lambda: _warn_unverified(check.result))
    return EXIT_OK


def _show_with_map(args: argparse.Namespace, map_path: Path) -> int:
    from mesodrive.cli import pictures
    from mesodrive.cli.session_plan import recorded_plan

    _check_output(map_path, _db(args), "the map")
    try:
        pictures.pyplot()
    except ImportError:
        raise _InputError("`records show --map` needs matplotlib "
                          "(pip install matplotlib)") from None
    with _open(args) as store:
        detail = store.session(_session(args.session))
        _warn_unverified(store.verify)
    recorded = recorded_plan(detail)
    if not recorded.points:
        raise _InputError(f"session {detail.summary.id} has no recorded plan with point "
                          f"positions: there is no map to draw")
    print_session(_console(), detail, lambda: point_outcomes(detail))
    _write_map(map_path, recorded, detail)
    return EXIT_OK


def _write_map(path: Path, recorded: RecordedPlan, detail: SessionDetail) -> None:
    from mesodrive.cli import pictures

    for note in recorded.notes:
        print(f"note: {note}", file=sys.stderr)
    outcomes = point_outcomes(detail)
    known = {p.point for p in recorded.points}
    stray = sorted(o.point for o in outcomes if o.point not in known)
    if stray:
        print(f"note: {len(stray)} recorded point(s) are not on the plan's map and are not "
              f"drawn: {', '.join(map(str, stray[:10]))}{' ...' if len(stray) > 10 else ''}",
              file=sys.stderr)
    fig = pictures.draw_outcomes(recorded.points, recorded.plan, detail, outcomes)
    try:
        pictures.save(fig, path)
    except (OSError, ValueError) as exc:
        raise _InputError(f"cannot write the map to {path}: {exc}") from None
    print(f"wrote {path} ({len(recorded.points)} points)", file=sys.stderr)


@_guarded
def _export(args: argparse.Namespace) -> int:
    out_path: Path | None = args.output
    if out_path is not None:
        _check_output(out_path, _db(args))
    with _open(args) as store, store.verification() as verification:
        number = _session(args.session)
        header = store.session_header(number)
        places = stored_places(header.plan_snapshot)
        if places is None:  # no usable stored point list: restore the plan for its points
            from mesodrive.cli.session_plan import recorded_plan

            recorded = recorded_plan(header, restore=False)
            for note in recorded.notes:
                print(f"note: {note}", file=sys.stderr)
            places = recorded.places()

        def write(out: Any) -> VerifyResult:
            return store.export(number, args.format, out, places=places, header=header,
                                verification=verification)

        if out_path is None:
            check = records_output.to_stdout(write)
        else:
            try:
                check = records_output.to_file(out_path, write)
            except OSError as exc:
                raise _InputError(f"cannot write the export to {out_path}: "
                                  f"{exc.strerror or exc}") from None
    if not check.ok:
        print(f"warning: these records do not verify: {check.problem}\nwarning: the export "
              f"says so at its end; run `mesodrive records verify`", file=sys.stderr)
    if out_path is not None:
        print(f"wrote {out_path}", file=sys.stderr)
    return EXIT_OK


def _check_output(out: Path, db: Path, what: str = "the export") -> None:
    """Say what is wrong with the *output* path before anything is read or written."""
    where = f"cannot write {what} to {out}"
    if out.is_dir():
        raise _InputError(f"{where}: it is a folder (give a file name)")
    parent = out.parent
    if not parent.exists():
        raise _InputError(f"{where}: the folder {parent} does not exist")
    if not parent.is_dir():
        raise _InputError(f"{where}: {parent} is not a folder")
    if out.exists() and not os.access(out, os.W_OK):
        raise _InputError(f"{where}: the file is read-only")
    protected = [db, Path(f"{db}-wal"), Path(f"{db}-shm"), heads_path(db)]
    if any(out.resolve() == p.resolve() for p in protected):
        raise _InputError(f"{where}: that is the records database (or a file of it) itself")
