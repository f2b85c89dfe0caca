"""`mesodrive report SESSION [-o FILE]`: the printable treatment report of one session.

    mesodrive report [--db PATH] [--key-file FILE] SESSION [-o report.html]

One self-contained HTML page (`mesodrive.reports`): the session's summary, the maps of the
volume delivered and the depth error, every point, alarms and operator actions, totals
against the plan, the patient's course, and whether the records verify, with the chain's
head. Open it in a browser and print it. The records are opened read-only; the page is
built whole before the file is written, so a failure leaves no half-written report.

Exit codes: 0 written, the records verify · 1 written, but the records do NOT verify (the
report says so at its top), or the records file is damaged (nothing written) · 2 bad input:
no database, no such session, an output path that cannot be written (named, nothing read).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mesodrive.cli import records_cmd
from mesodrive.cli.exit_codes import ExitCode
from mesodrive.records import RecordStore
from mesodrive.reports import build_report, render_html

DESCRIPTION = """\
Write one session's treatment report: a self-contained HTML page to open in a browser and
print. It says first whether the records verify (and the chain's head), then the session
(patient, product, device, calibration profile, operator, screening, times, the patient's
course), totals against the plan, maps of the volume delivered and of the depth error, alarms,
operator actions and every point."""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "report", help="write a session's printable treatment report (HTML)",
        description=DESCRIPTION)
    p.add_argument("session", type=int, metavar="SESSION",
                   help="the session number (the first column of `mesodrive records list`)")
    p.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                   help="the HTML file to write (default: session-SESSION-report.html here)")
    p.add_argument("--db", type=Path, default=None,
                   help=f"records database (default: {RecordStore.default_path()})")
    p.add_argument("--key-file", type=Path, default=None,
                   help="key file of a keyed (HMAC) chain (default: the file named by "
                        "MESODRIVE_RECORDS_KEY_FILE, if set)")
    p.set_defaults(func=run)


@records_cmd._guarded
def run(args: argparse.Namespace) -> int:
    number = records_cmd._session(args.session)
    out: Path = args.output or Path(f"session-{number}-report.html")
    records_cmd._check_output(out, records_cmd._db(args), "the report")
    with records_cmd._open(args) as store:
        report = build_report(store, number)
    page = render_html(report)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise records_cmd._InputError(f"cannot write the report to {out}: "
                                      f"{exc.strerror or exc}") from None
    print(f"wrote {out} (session {number}, {len(report.points)} points)", file=sys.stderr)
    if not report.chain.ok:
        print(f"warning: these records do not verify: {report.chain.problem}\nwarning: the "
              f"report says so at its top; run `mesodrive records verify`", file=sys.stderr)
        return ExitCode.FAILED
    print(f"chain head: {report.chain.head}", file=sys.stderr)
    return ExitCode.OK
