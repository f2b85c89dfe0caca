"""The treatment report as one self-contained, printable HTML page: inline CSS and SVG maps,
no script, no network, readable on paper (A4, black text, tables whose headers repeat on
every page, colour kept where it carries meaning). Style follows the calibration certificate
(`calibration.certificate_html`).

The records verification comes first: a reader must see before anything else whether what
follows can be trusted. Every stored text (patient reference, reasons, alarm details) is
escaped: a record cannot restyle or script the page.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from mesodrive import __version__
from mesodrive.reports.maps import depth_map, volume_map
from mesodrive.reports.session_report import PointLine, SessionReport

_CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 9.5pt; margin: 2em; color: #111; }
h1 { font-size: 16pt; margin: 0 0 0.2em; } h2 { font-size: 12pt; border-bottom: 1px solid #999;
  margin-top: 1.2em; break-after: avoid; }
table { border-collapse: collapse; margin: 0.4em 0 1em; }
th, td { border: 1px solid #bbb; padding: 2px 6px; text-align: right; vertical-align: top; }
th { background: #eee; } td.l, th.l { text-align: left; } thead { display: table-header-group; }
tr { break-inside: avoid; } table.kv th { text-align: left; width: 13em; }
.verified { border: 2px solid #0a6b0a; color: #0a6b0a; padding: 0.4em 0.8em; }
.failed { border: 3px solid #b00000; color: #b00000; padding: 0.4em 0.8em; font-weight: bold; }
.head { font-family: monospace; font-size: 8.5pt; word-break: break-all; }
.warn { color: #8a5a00; font-weight: bold; } .bad { color: #b00000; font-weight: bold; }
.maps { display: flex; flex-wrap: wrap; gap: 1em; } figure { margin: 0; break-inside: avoid; }
figure svg { width: 88mm; height: auto; } figcaption { font-size: 8pt; color: #444; }
.small { font-size: 8pt; color: #444; }
@media print { body { margin: 0; } * { print-color-adjust: exact; -webkit-print-color-adjust: exact; } }
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _n(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") or "0"


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], left: Iterable[int] = (),
           cls: str = "") -> str:
    """Cells are HTML already (escape stored text before); `left`: left-aligned columns."""
    lefts = set(left)
    th = "".join(f'<th class="{"l" if i in lefts else ""}">{_e(h)}</th>'
                 for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(f'<td class="{"l" if i in lefts else ""}">{c}</td>'
                                     for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _kv(rows: Iterable[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td class=\"l\">{v}</td></tr>" for k, v in rows)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def _chain(r: SessionReport) -> str:
    c = r.chain
    if c.ok:
        keyed = ", keyed (HMAC-SHA256)" if c.keyed else ""
        return (f'<div class="verified">Records verified: {c.rows} rows, chain intact{keyed}.'
                f'<br>Chain head <span class="head">{_e(c.head)}</span> — keep it; '
                f"<code>mesodrive records verify --expect-head HEAD</code> later shows whether "
                f"rows were removed or the database replaced.</div>")
    return (f'<div class="failed">RECORDS VERIFICATION FAILED: {_e(c.problem)}<br>What this '
            f"report shows may have been altered. Run <code>mesodrive records verify</code> "
            f"and restore the records from a backup.</div>")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


def _g(value: object, sign: str = "") -> str:
    """A stored calibration figure: a number as `g` (with its sign if asked), else escaped."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:{sign}g}"
    return "?" if value is None else _e(value)


def _when(ts: str | None) -> str:
    return "—" if not ts else _e(ts.replace("T", " ")[:19]) + " UTC"


def _summary(r: SessionReport) -> str:
    d, s = r.detail, r.detail.summary
    product = d.product
    name = product.get("name")
    dev = d.device
    cal = d.calibration
    profile = cal.get("profile") or cal.get("name")
    cal_text = _e(profile or "none recorded")
    if cal:
        cal_text += (f" (depth ×{_g(cal.get('depth_scale'))} {_g(cal.get('depth_offset_mm'), '+')}"
                     f" mm, volume ×{_g(cal.get('volume_gain'))} "
                     f"{_g(cal.get('volume_offset_ul'), '+')} µL)")
    course = "—"
    if r.course is not None:
        c = r.course
        course = (f"session {c.number} of the {_e(c.course)} course" if c.number
                  else f"in the {_e(c.course)} course, nothing given") + f" · {_e(c.timing_text)}"
        if c.timing == "too early":
            course = f'<span class="warn">{course}</span>'
    rows = [
        ("patient", f"<b>{_e(s.patient_ref or '—')}</b>"),
        ("product", f"{_e(s.product_id or '—')}" + (f" — {_e(name)}" if name else "")
         + (f" [{_e(product.get('indication'))}]" if product.get("indication") else "")),
        ("status", _e(s.status)),
        ("started", _when(d.started_at)), ("ended", _when(d.ended_at)),
        ("duration", _duration(r.duration_s)),
        ("operator", _e(d.operator or "—")),
        ("screening", _e(r.screening or "not recorded")),
        ("course", course),
        ("device", _e(f"{dev.get('serial', '?')} · firmware {dev.get('firmware', '?')}")
         if dev else "—"),
        ("calibration profile", cal_text),
        ("mode", _e(s.mode)),
        ("plan", _e(d.plan_snapshot.get("source") or "—") + f' <span class="head">sha256 '
                 f"{_e(s.plan_hash)}</span>"),
    ]
    return _kv(rows)


def _totals(r: SessionReport) -> str:
    t = r.totals
    share = f" ({100 * t.volume_share:.1f} % of plan)" if t.volume_share is not None else ""
    rows = [
        ["points", str(t.planned_points), str(t.given_points),
         f"{t.delivered} delivered · {t.cut_short} cut short · {t.uncertain} uncertain "
         f"(counted as delivered) · {t.skipped} skipped · {t.not_done} not done"
         + (f" · {t.not_settled} not settled" if t.not_settled else "")],
        ["volume µL", _n(t.planned_ul, 1), _n(t.delivered_ul, 1) + _e(share),
         "uncertain points count their planned volume"],
    ]
    return _table(["", "planned", "given", "of which"], rows, left=(0, 3))


def _maps(r: SessionReport) -> str:
    volume = volume_map(r)
    depth = depth_map(r)
    if volume is None or depth is None:
        return "<p>The session has no recorded plan with point positions: no map.</p>"
    what, svg = depth
    note = ("blue: shallower than planned, red: deeper; a cross: not measured"
            if what == "depth error"
            else "the device measured no depth in this session")
    return ('<div class="maps">'
            f"<figure>{volume}<figcaption>Volume delivered at each point. Hollow: nothing "
            f"given.</figcaption></figure>"
            f"<figure>{svg}<figcaption>{_e(what.capitalize())} at each point ({note})."
            f"</figcaption></figure></div>"
            f'<p class="small">Maps in the patient\'s own frame: x runs from the patient\'s '
            f"left to the patient's right.</p>")


def _point_row(p: PointLine) -> list[str]:
    o = p.outcome
    err = p.depth_error_mm
    text = _e(o.text)
    if o.outcome in ("cut short", "uncertain", "not settled"):
        text = f'<span class="warn">{text}</span>'
    return [str(o.point), _e(p.zone or "—"), _n(p.x_mm, 1), _n(p.y_mm, 1), _n(o.depth_mm),
            _n(o.reached_mm), "—" if err is None else f"{err:+.3f}", _n(o.planned_ul),
            _n(o.delivered_ul), _n(o.peak_kpa, 1), _e(", ".join(map(str, o.shots)) or "—"),
            text]


_POINT_HEAD = ["point", "zone", "x mm", "y mm", "depth mm", "reached mm", "error mm",
               "planned µL", "given µL", "peak kPa", "shots", "outcome"]


def render_html(r: SessionReport) -> str:
    """The whole page."""
    d = r.detail
    alarms = (_table(["time (UTC)", "code", "detail"],
                     [[_e(a.ts.replace("T", " ")[:19]), _e(a.code), _e(a.detail)]
                      for a in d.alarms], left=(0, 1, 2)) if d.alarms else "<p>None.</p>")
    actions = (_table(["time (UTC)", "action", "operator", "reason"],
                      [[_e(a.ts.replace("T", " ")[:19]), _e(a.action), _e(a.operator or "—"),
                        _e(a.reason)] for a in d.actions], left=(0, 1, 2, 3))
               if d.actions else "<p>None.</p>")
    points = (_table(_POINT_HEAD, (_point_row(p) for p in r.points), left=(1, 11))
              if r.points else "<p>No points recorded.</p>")
    notes = "".join(f'<p class="small">Note: {_e(n)}</p>' for n in r.recorded.notes)
    title = f"Treatment report — session {d.id}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<style>{_CSS}</style></head><body>
<h1>{_e(title)}</h1>
<p>Patient <b>{_e(d.summary.patient_ref or '—')}</b> · {_e(d.summary.product_id or '—')} ·
{_when(d.started_at)} · {_e(d.status)}</p>
{_chain(r)}
<h2>Session</h2>
{_summary(r)}
<h2>Against the plan</h2>
{_totals(r)}
<h2>Maps</h2>
{_maps(r)}{notes}
<h2>Alarms</h2>
{alarms}
<h2>Operator actions</h2>
{actions}
<h2>Each point</h2>
{points}
<p class="small">Generated {_e(r.generated_at.replace("T", " "))} by mesodrive {_e(__version__)}
from the records; chain head at that time: <span class="head">{_e(r.chain.head or "none (not verified)")}</span>.</p>
</body></html>
"""
