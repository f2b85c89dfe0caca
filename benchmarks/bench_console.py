#!/usr/bin/env python3
"""The web console in a real browser: e-stop click → device latched, and a shot's result →
its colour on the page's map. One JSON line per figure, with the load average.

The console (the same pages `mesodrive console` serves) runs in this process; the device is the
simulator in a process of its own over loopback TCP (`mesodrive sim --tcp`, as a real device is
outside the console's process; `--in-process` uses `sim://` instead, which shares the GIL);
Debian's chromium (headless, Selenium) opens the console with the access token.

- `estop_click_to_latched_ms`: the E-STOP button clicked with a JS `click()`; its handler sends
  the browser's own event time (Date.now()), and the console notes when the device confirmed
  the latch (server clock + the device call's latency; same machine, same clock). Selenium's
  round trip is not in it. The device is cleared (on the record) between clicks, with no run,
  so every click is also an e-stop recorded outside a run.
- `device_estop_call_ms`: the device call alone (Injector.estop until ESTOPPED confirmed), and
  `estop_click_to_call_ms` the rest: the browser's event reaching the console's e-stop thread.
- `result_to_map_ms`: a point's result reaching the console's board (the engine's event) →
  the browser's DOM showing that point's new colour (a MutationObserver's Date.now()). The page
  looks for changes every 50 ms, so about 25 ms of it is that poll on average.

Run: python benchmarks/bench_console.py [--clicks 200] [--points 100]   (~90 s)
Needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TOKEN = "bench-token-5e1d"
PLAN = """
schema_version = 1
patient_ref = "BENCH"
library = "{library}"
product = "hair-revital"
indication = "hair"
area = {{ kind = "rectangle", origin_mm = [0, 0], size_mm = [{size}, {size}] }}
pattern = "square"
spacing_mm = 10
ordering = "serpentine"
mode = "auto"
cadence_hz = {cadence}

[defaults]
depth_mm = 1.5
volume_ul = 20
flow_ul_s = 80
speed_mm_s = 50
dwell_s = 0.0
"""
OBSERVE_MAP = """
window.__seen = {};
const note = () => {
  for (const c of document.querySelectorAll('.run-grid circle[data-point]')) {
    const s = c.getAttribute('data-status');
    if (s !== 'pending' && s !== 'next' && !(c.dataset.point in window.__seen))
      window.__seen[c.dataset.point] = Date.now();
  }
};
new MutationObserver(note).observe(document.body, {subtree: true, childList: true,
                                                    attributes: true});
"""


def figure(name: str, values: list[float], **extra: Any) -> None:
    values = sorted(values)

    def pct(p: float) -> float:
        return round(values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))], 2)

    print(json.dumps({"figure": name, "n": len(values), "p50": round(statistics.median(values), 2),
                      "p99": pct(99), "max": round(values[-1], 2), "min": round(values[0], 2),
                      "unit": "ms", "loadavg_1m": round(os.getloadavg()[0], 2),
                      "cpus": os.cpu_count(), **extra}), flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(cond: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.01)


def browser() -> Any:
    os.environ.setdefault("SE_OFFLINE", "true")
    os.environ.setdefault("SE_AVOID_STATS", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("headless", "no-sandbox", "disable-dev-shm-usage", "disable-gpu",
                "window-size=1400,1000"):
        options.add_argument(arg)
    options.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))


def measure(url: str, plan_path: Path, clicks: int, out: dict[str, Any]) -> None:
    from mesodrive.console.plan_view import load
    from mesodrive.console.runtime import station
    from mesodrive.console.station import Checklist, Station
    from mesodrive.controller.states import RunState
    from mesodrive.driver.vocabulary import DeviceState

    s = station()
    wait(lambda: s.inj is not None, 30, "the simulator to connect")
    inj = s.inj
    assert inj is not None
    driver = browser()
    try:
        driver.get(url)
        wait(lambda: driver.execute_script("return !!document.querySelector('.estop')"), 30,
             "the page")
        # ----- e-stop clicks, cleared in between ------------------------------------------------
        browser_ms, device_ms = [], []
        for i in range(clicks):
            s.last_estop = None
            driver.execute_script("document.querySelector('.estop').click()")
            wait(lambda: s.last_estop is not None, 10, "the e-stop")
            r = s.last_estop
            assert r is not None and r.latched and inj.state is DeviceState.ESTOPPED, r
            browser_ms.append((r.from_browser_s or 0) * 1000)
            device_ms.append((r.device_s or 0) * 1000)
            s.clear(f"benchmark click {i}", operator="bench")
        out["estop"] = (browser_ms, device_ms)
        # ----- a run: result -> map -------------------------------------------------------------
        s.plan = load(plan_path)
        driver.execute_script(
            "for (const t of document.querySelectorAll('.q-tab')) "
            "if (t.textContent.trim() === 'Run') t.click();")
        driver.execute_script(OBSERVE_MAP)
        s.start(Checklist(Station.screening_questions(), True, True), "bench", "bench")
        t = s.treatment
        assert t is not None
        wait(lambda: t.done.is_set(), 600, "the run to end")
        assert t.state is RunState.COMPLETED, t.state
        time.sleep(0.5)  # the last redraw
        seen = driver.execute_script("return window.__seen") or {}
        board = s.board
        assert board is not None
        lags = [seen[str(p)] - at * 1000 for p, at in board.result_times().items()
                if str(p) in seen]
        out["map"] = (lags, len(board.result_times()))
    finally:
        driver.quit()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clicks", type=int, default=200)
    ap.add_argument("--points", type=int, default=100, help="about this many (a square grid; the figure says how many)")
    ap.add_argument("--cadence", type=float, default=2.5, help="shots per second")
    ap.add_argument("--in-process", action="store_true",
                    help="the simulator in this process (sim://) instead of its own process")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-console-"))
    side = max(2, round(args.points ** 0.5))
    plan = tmp / "plan.toml"
    plan.write_text(PLAN.format(library=REPO / "examples" / "products.toml",
                                size=side * 10, cadence=args.cadence))
    port = free_port()
    sim = None
    device = "sim://?seed=1&realtime=1"
    if not args.in_process:
        sim = subprocess.Popen([sys.executable, "-m", "mesodrive", "sim", "--tcp",
                                "127.0.0.1:0", "--seed", "1", "--quiet"],
                               stdout=subprocess.PIPE, text=True)
        assert sim.stdout is not None
        device = sim.stdout.readline().strip().split()[-1]
        if not device.startswith("socket://"):
            print(f"mesodrive sim printed {device!r}, not a socket:// URL", file=sys.stderr)
            sim.kill()
            return 1
    os.environ.update({"MESODRIVE_CONSOLE_TOKEN": TOKEN,
                       "MESODRIVE_CONSOLE_DEVICE": device,
                       "MESODRIVE_CONSOLE_DB": str(tmp / "records.db"),
                       "MESODRIVE_CONSOLE_OPERATOR": "bench"})
    from nicegui import app, ui

    from mesodrive.console.config import ConsoleConfig
    from mesodrive.console.pages import build

    build(ConsoleConfig.from_env())
    out: dict[str, Any] = {}
    failed: list[str] = []

    def work() -> None:
        try:
            measure(f"http://127.0.0.1:{port}/?token={TOKEN}", plan, args.clicks, out)
        except Exception:  # noqa: BLE001 - printed after the server stops
            failed.append(traceback.format_exc())
        finally:
            app.shutdown()

    app.on_startup(lambda: threading.Thread(target=work, daemon=True).start())
    try:
        ui.run(host="127.0.0.1", port=port, reload=False, show=False, title="bench",
               show_welcome_message=False)
    finally:
        if sim is not None:
            sim.terminate()
            sim.wait(10)
    if failed:
        print(failed[0], file=sys.stderr)
        return 1
    browser_ms, device_ms = out["estop"]
    where = "in-process sim://" if args.in_process else "mesodrive sim --tcp (own process)"
    figure("estop_click_to_latched_ms", browser_ms, clicks=args.clicks, device=where,
           measured_from="the click event's Date.now() in the browser")
    figure("device_estop_call_ms", device_ms, clicks=args.clicks, device=where)
    figure("estop_click_to_call_ms", [b - d for b, d in zip(browser_ms, device_ms, strict=True)],
           clicks=args.clicks, what="the browser's event to the console's device call")
    lags, points = out["map"]
    figure("result_to_map_ms", lags, points=points, page_poll_ms=50, device=where)
    return 0


if __name__ == "__main__":
    sys.exit(main())
