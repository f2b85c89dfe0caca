"""The printable certificate: one self-contained HTML page (inline CSS, plots embedded as
base64 PNG drawn by matplotlib's Agg backend, so no display and no network are needed)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable
from typing import TYPE_CHECKING

from mesodrive.calibration.certificate import Certificate, DepthRecord, DoseRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["render_html"]

_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10pt; margin: 2em; color: #111; }
h1 { font-size: 16pt; margin-bottom: 0; } h2 { font-size: 12pt; border-bottom: 1px solid #999; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #bbb; padding: 2px 6px; text-align: right; }
th { background: #eee; } td.l, th.l { text-align: left; }
.pass { color: #0a6b0a; font-weight: bold; } .fail { color: #b00000; font-weight: bold; }
.verdict { font-size: 14pt; padding: 0.3em 0; } .raw { font-family: monospace; font-size: 8pt; }
img { max-width: 100%; } @media print { body { margin: 1cm; } h2 { break-after: avoid; } }
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _verdict(passed: bool) -> str:
    return '<span class="pass">PASS</span>' if passed else '<span class="fail">FAIL</span>'


def _table(head: Iterable[str], rows: Iterable[Iterable[str]], left: int = 0) -> str:
    cells = "".join(f'<th class="{"l" if i < left else ""}">{_e(h)}</th>' for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{c}</td>' for i, c in enumerate(r))
        + "</tr>" for r in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _dose_plot(cert: Certificate) -> str | None:
    if not (cert.dose_before or cert.dose_after):
        return None
    from matplotlib.figure import Figure  # Agg via Figure(): never touches a display

    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.add_subplot()
    volumes = sorted({r.volume_ul for r in (*cert.dose_before, *cert.dose_after)})
    limit = [cert.limits.dose_limit(v).max_systematic_error_pct for v in volumes]
    ax.fill_between(volumes, [-x for x in limit], limit, step="mid", alpha=0.15, color="green",
                    label="acceptance band (ISO 8655-2)")
    for records, label, marker in ((cert.dose_before, "as found", "o"),
                                   (cert.dose_after, "as left", "s")):
        if records:
            ax.errorbar([r.volume_ul for r in records], [r.systematic_error_pct for r in records],
                        yerr=[r.uncertainty.expanded_pct for r in records], fmt=marker,
                        capsize=3, label=f"{label} (± U, k = 2)")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(volumes, [f"{v:g}" for v in volumes])
    ax.set_xlabel("test volume (µL)")
    ax.set_ylabel("systematic error (%)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _png(fig)


def _depth_plot(cert: Certificate) -> str | None:
    if not (cert.depth_before or cert.depth_after):
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.add_subplot()
    depths = sorted({r.requested_mm for r in (*cert.depth_before, *cert.depth_after)})
    tol = cert.limits.depth.tolerance_mm
    ax.axhspan(-tol, tol, alpha=0.15, color="green", label=f"acceptance band (±{tol:g} mm)")
    for records, label, marker in ((cert.depth_before, "as found", "o"),
                                   (cert.depth_after, "as left", "s")):
        shown = [(r.requested_mm, r.error_mm) for r in records if r.error_mm is not None]
        if shown:
            ax.plot([x for x, _ in shown], [y for _, y in shown], marker, label=label)
        unreachable = [r.requested_mm for r in records if r.error_mm is None]
        if unreachable:  # no reading to plot, but the failure must show
            ax.plot(unreachable, [0.0] * len(unreachable), "x", color="red", markersize=10,
                    label=f"{label}: unreachable")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xticks(depths)
    ax.set_xlabel("requested depth (mm)")
    ax.set_ylabel("depth error (mm)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _png(fig)


def _dose_rows(records: list[DoseRecord]) -> list[list[str]]:
    return [[f"{r.volume_ul:g}", f"{r.commanded_ul:.3f}", f"{r.mean_ul:.4f}",
             f"{r.systematic_error_ul:+.4f}", f"{r.systematic_error_pct:+.3f}",
             f"±{r.verdict.max_systematic_error_pct:g}", f"{r.random_error_ul:.4f}",
             f"{r.cv_pct:.3f}", f"{r.verdict.max_cv_pct:g}", f"{r.uncertainty.expanded_ul:.4f}",
             f"{r.uncertainty.expanded_pct:.3f}", _verdict(r.verdict.passed)] for r in records]


_DOSE_HEAD = ["V₀ µL", "commanded µL", "mean µL", "e_s µL", "e_s %", "limit %", "s µL", "CV %",
              "limit %", "U µL (k=2)", "U %", "verdict"]


def _depth_rows(records: list[DepthRecord]) -> list[list[str]]:
    return [[f"{r.requested_mm:g}", f"{r.commanded_mm:.4f}",
             "—" if r.mean_mm is None else f"{r.mean_mm:.4f}",
             _e(r.verdict.note) if r.error_mm is None else f"{r.error_mm:+.4f}",
             f"±{r.verdict.tolerance_mm:g}", _verdict(r.verdict.passed)] for r in records]


_DEPTH_HEAD = ["requested mm", "commanded mm", "mean mm", "error mm", "limit mm", "verdict"]


def _raw(cert: Certificate) -> str:
    parts = []
    for title, dose in (("as found", cert.dose_before), ("as left", cert.dose_after)):
        for r in dose:
            masses = " ".join(f"{m:.5f}" for m in r.masses_mg)
            parts.append(f"<p class=raw>dose {title} {r.volume_ul:g} µL — masses (mg): {masses}; "
                         f"evaporation per replicate {r.evaporation_per_replicate_mg:.5f} mg; "
                         f"Z {r.z_ul_per_mg:.6f} µL/mg</p>")
    for title, depth in (("as found", cert.depth_before), ("as left", cert.depth_after)):
        for d in depth:
            readings = " ".join(f"{x:.3f}" for x in d.readings_mm)
            parts.append(f"<p class=raw>depth {title} {d.requested_mm:g} mm — readings (mm): "
                         f"{readings}</p>")
    return "".join(parts)


def _budget(records: list[DoseRecord]) -> list[str]:
    """The GUM budget, one column per test volume (as left when there is one)."""
    if not records:
        return []
    names = list(records[0].uncertainty.components_ul)
    rows = [[_e(name)] + [f"{r.uncertainty.components_ul[name]:.5f}" for r in records]
            for name in names]
    rows.append(["combined u_c"] + [f"{r.uncertainty.combined_ul:.5f}" for r in records])
    rows.append(["expanded U (k = 2)"] + [f"{r.uncertainty.expanded_ul:.4f}" for r in records])
    head = ["component", *(f"{r.volume_ul:g} µL" for r in records)]
    return ["<h2>Uncertainty budget (standard uncertainties, µL)</h2>",
            _table(head, rows, left=1)]


def render_html(cert: Certificate) -> str:
    """The whole certificate as one printable, self-contained HTML document."""
    env = cert.environment
    sections = [
        f"<h1>Calibration certificate {_e(cert.certificate_id)}</h1>",
        f'<p class="verdict">Result: {_verdict(cert.passed)}</p>',
        _table(["", ""], [
            ["device serial", _e(cert.device_serial)], ["firmware", _e(cert.device_firmware)],
            ["technician", _e(cert.technician)],
            ["issued", _e(cert.issued.isoformat(timespec="seconds"))],
            ["valid until", _e(cert.expires.isoformat())],
            ["limits", _e(cert.limits_source)]], left=2),
        "<h2>Instruments</h2>",
        _table(["instrument", "model", "serial", "readability"],
               [[_e(i.kind), _e(i.model), _e(i.serial_number), _e(i.readability)]
                for i in cert.instruments], left=3),
    ]
    if env is not None:
        z = cert.dose_after[0].z_ul_per_mg if cert.dose_after else (
            cert.dose_before[0].z_ul_per_mg if cert.dose_before else None)
        sections += ["<h2>Environment</h2>", _table(
            ["water °C (before → after)", "air °C", "pressure hPa", "humidity % RH", "Z µL/mg"],
            [[f"{env.water_temperature_c:.2f}" + (
                "" if env.water_temperature_after_c is None
                else f" → {env.water_temperature_after_c:.2f}"), f"{env.air_temperature_c:.2f}",
              f"{env.air_pressure_hpa:.1f}", f"{env.relative_humidity_pct:.0f}",
              f"{z:.6f}" if z is not None else "—"]])]
    for title, records in (("Dose as found", cert.dose_before), ("Dose as left", cert.dose_after)):
        if records:
            sections += [f"<h2>{title} (ISO 8655-6)</h2>", _table(_DOSE_HEAD, _dose_rows(records))]
    plot = _dose_plot(cert)
    if plot:
        sections.append(f'<img alt="dose error per volume" src="data:image/png;base64,{plot}">')
    for title, depth in (("Depth as found", cert.depth_before), ("Depth as left", cert.depth_after)):
        if depth:
            sections += [f"<h2>{title}</h2>", _table(_DEPTH_HEAD, _depth_rows(depth))]
    plot = _depth_plot(cert)
    if plot:
        sections.append(f'<img alt="depth error per depth" src="data:image/png;base64,{plot}">')
    b, a = cert.profile_before, cert.profile_after
    sections += ["<h2>Calibration profile</h2>", _table(
        ["", "name", "depth scale", "depth offset mm", "volume gain", "volume offset µL"],
        [[label, _e(p.name), f"{p.depth_scale:.5f}", f"{p.depth_offset_mm:+.4f}",
          f"{p.volume_gain:.5f}", f"{p.volume_offset_ul:+.4f}"]
         for label, p in (("before", b), ("after", a))], left=2)]
    sections += _budget(cert.dose_after or cert.dose_before)
    sections += ["<h2>Raw readings</h2>", _raw(cert)]
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<title>{_e(cert.certificate_id)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(sections) + "</body></html>\n")
