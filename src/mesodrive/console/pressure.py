"""Line pressure for the run screen: a bar with the warning level and the limit marked.

Why: pressure at the needle is what restores the "feel" a gun takes away (DOMAIN.md: a bar of
tissue pressure, a warning near the limit, a stop at the limit — the dental injectors'
practice). The device stops at its own limit (occlusion: above its threshold for 300 ms,
PROTOCOL.md §12.3) and does not report that threshold, so the console marks the limit at
`LIMIT_KPA` (the simulator's occlusion threshold, 600 kPa) and warns from `WARNING_KPA` (three
quarters of it): a display, never a control — stopping stays the device's.

The reading is the device's status, asked a few times a second while a run is live (a status
query is idempotent and never delays a shot: the link carries it beside them), in a thread of
its own so a page never waits on it; the last shot's peak comes from its result.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from mesodrive.driver.errors import DriverError
from mesodrive.driver.injector import Injector

LIMIT_KPA = 600.0
WARNING_KPA = 450.0
SCALE_KPA = 750.0  # the bar's full width: the limit is visibly inside it
POLL_S = 0.25


def level(kpa: float | None) -> str:
    if kpa is None:
        return "unknown"
    return "limit" if kpa >= LIMIT_KPA else "warning" if kpa >= WARNING_KPA else "normal"


def render(kpa: float | None, peak_kpa: float | None = None) -> str:
    """The bar as SVG: the reading, the last shot's peak (a thin mark), warning and limit."""
    def x(v: float) -> float:
        return round(max(0.0, min(v, SCALE_KPA)) / SCALE_KPA * 400, 1)

    colour = {"normal": "#2e7d32", "warning": "#f9a825", "limit": "#c62828",
              "unknown": "#9e9e9e"}[level(kpa)]
    fill = (f'<rect x="0" y="6" width="{x(kpa)}" height="22" fill="{colour}" '
            f'data-kpa="{kpa:.0f}" data-level="{level(kpa)}"/>' if kpa is not None else "")
    peak = (f'<rect x="{x(peak_kpa) - 1}" y="2" width="2" height="30" fill="#263238" '
            f'data-peak="{peak_kpa:.0f}"/>' if peak_kpa is not None else "")
    return (
        '<svg class="pressure-bar" viewBox="0 0 400 48" width="100%" role="img" '
        f'aria-label="line pressure {"unknown" if kpa is None else f"{kpa:.0f} kPa"}">'
        '<rect x="0" y="6" width="400" height="22" fill="#eceff1" stroke="#90a4ae"/>'
        f'{fill}{peak}'
        f'<line x1="{x(WARNING_KPA)}" y1="0" x2="{x(WARNING_KPA)}" y2="34" stroke="#f9a825" '
        'stroke-width="3" data-mark="warning"/>'
        f'<line x1="{x(LIMIT_KPA)}" y1="0" x2="{x(LIMIT_KPA)}" y2="34" stroke="#c62828" '
        'stroke-width="3" data-mark="limit"/>'
        f'<text x="{x(WARNING_KPA) - 2}" y="46" font-size="10" text-anchor="end">warning '
        f'{WARNING_KPA:.0f}</text>'
        f'<text x="{x(LIMIT_KPA) + 2}" y="46" font-size="10">limit {LIMIT_KPA:.0f} kPa</text>'
        '</svg>')


class PressureWatch:
    """Asks the device's line pressure every `POLL_S` until `stop` (or `running()` is false)."""

    def __init__(self, inj: Injector, running: Callable[[], bool]) -> None:
        self.kpa: float | None = None
        self._inj, self._running = inj, running
        self._stop = threading.Event()
        threading.Thread(target=self._watch, name="mesodrive-console-pressure",
                         daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.is_set() and self._running():
            try:
                self.kpa = self._inj.status().pressure_kpa
            except DriverError:
                self.kpa = None
            self._stop.wait(POLL_S)
        self.kpa = None
