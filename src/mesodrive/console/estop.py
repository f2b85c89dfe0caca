"""The emergency stop: a large button always in the header and the Escape key, which works
whatever has focus and whatever dialog is open (a capturing listener on the window, ahead of
any input or dialog; the console's dialogs do not close on Escape, so the key means one thing).

Both are recorded as the page's operator's (a page without a name still stops, and the records
say no name was entered). Both send the browser's own event time with the request, so the console can say how long it
took from the operator's action to the device latched (not only from the server's call).
"""

from __future__ import annotations

from typing import Any

from nicegui import events, ui

from mesodrive.console.operator import page_actor
from mesodrive.console.runtime import in_own_thread, station

KEY = "Escape"
# One listener per page, in the capture phase: it sees the key before any element does.
KEY_SCRIPT = f"""
if (!window.__mesodriveEstop) {{
  window.__mesodriveEstop = true;
  window.addEventListener('keydown', (e) => {{
    if (e.key === '{KEY}' && !e.repeat) {{
      e.preventDefault(); e.stopPropagation();
      emitEvent('mesodrive_estop', {{t: Date.now(), via: 'key'}});
    }}
  }}, true);
}}
"""
CLICK_JS = "() => emitEvent('mesodrive_estop', {t: Date.now(), via: 'button'})"


async def emergency_stop(e: events.GenericEventArguments) -> None:
    args: Any = e.args if isinstance(e.args, dict) else {}
    t = args.get("t")
    via = "key" if args.get("via") == "key" else "button"
    browser_ms = float(t) if isinstance(t, (int, float)) else None
    s = station()
    by = page_actor("Escape key" if via == "key" else "E-STOP button")
    report = await in_own_thread(lambda: s.estop(via, browser_ms, by))
    text = s.describe_estop(report)
    ui.notify(text, type="negative" if not report.latched else "warning",
              position="top", timeout=8000)


def add_estop(container_classes: str = "") -> ui.button:
    """The button (in the header) and the key (once per page)."""
    ui.on("mesodrive_estop", emergency_stop)
    ui.add_body_html(f"<script>{KEY_SCRIPT}</script>")
    button = ui.button("E-STOP").props('color=red-10 size=xl icon=dangerous push '
                                       'aria-label="Emergency stop (Escape key)"')
    button.classes("estop text-weight-bolder " + container_classes).style(
        "min-width:11rem;min-height:4.2rem;font-size:1.6rem;border:3px solid #ffeb3b")
    button.on("click", js_handler=CLICK_JS)
    button.tooltip("Emergency stop: retracts the needle now, latched until cleared. Key: Esc")
    button.mark("estop")
    return button
