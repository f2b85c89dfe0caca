"""Selenium helpers for the console's browser tests (no pages here)."""

from __future__ import annotations

from typing import Any

from nicegui import Client, ui
from nicegui.testing import Screen
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from mesodrive.console.runtime import station
from tests.console.conftest import TOKEN
from tests.console.helpers import wait

HOME = f"/?token={TOKEN}"
# Records when each point first shows "delivered" (or any final state) on the run map,
# in the browser's clock: the end of the result → page lag.
OBSERVE_MAP = """
window.__seen = {};
const note = () => {
  for (const c of document.querySelectorAll('.run-grid circle[data-point]')) {
    const s = c.getAttribute('data-status');
    if (s !== 'pending' && s !== 'next' && !(c.dataset.point in window.__seen))
      window.__seen[c.dataset.point] = Date.now();
  }
};
new MutationObserver(note).observe(document.body, {subtree: true, childList: true});
"""


def marked(marker: str) -> list[ui.element]:
    """The elements with this marker on the newest page."""
    clients = [c for c in Client.instances.values() if c.has_socket_connection]
    assert clients, "no page is connected"
    client = max(clients, key=lambda c: c.created)
    return [e for e in client.elements.values() if marker in e._markers]


def dom(screen: Screen, marker: str, index: int = 0) -> WebElement:
    return screen.find_element(marked(marker)[index])


def open_console(screen: Screen, operator: str | None = "dr-browser") -> None:
    screen.open(HOME)
    wait(lambda: station().inj is not None, 15, "the simulator to connect")
    screen.should_contain("connected")
    if operator:
        field(screen, "operator").send_keys(operator)


def start(screen: Screen, plan: str) -> int:
    dom(screen, "plan-select").click()
    screen.click(plan)
    wait(lambda: station().plan is not None and station().plan.path.name == plan, 10, "the plan")
    screen.should_contain("Before starting")
    for marker in ("screening", "product-confirmed", "primed"):
        for i in range(len(marked(marker))):
            dom(screen, marker, i).click()
    screen.wait(0.3)
    dom(screen, "start").click()
    wait(lambda: station().treatment is not None, 15, "the run to start")
    t = station().treatment
    assert t is not None
    return t.session


def statuses(screen: Screen) -> dict[int, str]:
    """point -> state on the run map, read in one script (the map is redrawn live)."""
    found = screen.selenium.execute_script(
        "const o = {}; for (const c of document.querySelectorAll('.run-grid circle[data-point]'))"
        " o[c.dataset.point] = c.dataset.status; return o;")
    return {int(k): str(v) for k, v in (found or {}).items()}


def js(screen: Screen, script: str, *args: Any) -> Any:
    return screen.selenium.execute_script(script, *args)


def field(screen: Screen, marker: str) -> WebElement:
    """The text field of a ui.input (NiceGUI gives its id to the <input> itself)."""
    el = dom(screen, marker)
    return el if el.tag_name == "input" else el.find_element(By.CSS_SELECTOR, "input")
