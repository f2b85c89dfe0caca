"""Console tests: the server's configuration (through the environment, read by the main file
the NiceGUI fixtures run), the device per test (`@pytest.mark.console_device(URL)`), and the
browser: Debian's chromium, or a skip that says it is missing.

The tests that use NiceGUI's `user` or `screen` fixtures need its plugin and run in their own
invocation (`pytest -p nicegui.testing.plugin tests/console`, as `.ci/run` does): the fixtures
reset NiceGUI's globals and the browser fixture serves on one fixed port. In the main run they
are skipped, saying so; the console's plain unit tests run in both.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesodrive.console.config import ENV

PLANS = Path(__file__).resolve().parent / "plans"
TOKEN = "test-token-7f3a9c"
DEFAULT_DEVICE = "sim://?seed=1&realtime=1"
PLUGIN = "nicegui.testing.plugin"
MAIN_FILE = "src/mesodrive/console/main.py"  # relative to pyproject.toml
SEPARATE = (f"console UI tests run in their own invocation: "
            f"pytest -p {PLUGIN} tests/console (.ci/run does)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "console_device(url): the device the console connects to")
    config.addinivalue_line("markers", "nicegui_main_file(path): NiceGUI's main file")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    with_plugin = config.pluginmanager.has_plugin(PLUGIN)
    for item in items:
        if not {"user", "screen", "create_user"} & set(getattr(item, "fixturenames", ())):
            continue
        if with_plugin:
            item.add_marker(pytest.mark.nicegui_main_file(MAIN_FILE))
        else:
            item.add_marker(pytest.mark.skip(reason=SEPARATE))


def chromium() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(autouse=True)
def console_env(request: pytest.FixtureRequest, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The console the fixtures start: this test's records, the test plans, a known token."""
    marker = request.node.get_closest_marker("console_device")
    device = marker.args[0] if marker else DEFAULT_DEVICE
    db = tmp_path / "records.db"
    monkeypatch.setenv(ENV["token"], TOKEN)
    monkeypatch.setenv(ENV["device"], device)
    monkeypatch.setenv(ENV["db"], str(db))
    monkeypatch.setenv(ENV["plans"], str(PLANS))
    monkeypatch.setenv(ENV["operator"], "test-operator")
    yield db


@pytest.fixture(scope="session")
def nicegui_chrome_options() -> object:
    """NiceGUI's options (headless, no sandbox as root, no /dev/shm) with Debian's chromium, a
    window large enough for the console, and Selenium kept offline."""
    path = chromium()
    if path is None:
        pytest.skip("no Chromium found (/usr/bin/chromium): apt-get install chromium "
                    "chromium-driver to run the console's browser tests")
    os.environ.setdefault("SE_OFFLINE", "true")
    os.environ.setdefault("SE_AVOID_STATS", "true")
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    for arg in ("disable-dev-shm-usage", "disable-search-engine-choice-screen", "no-sandbox",
                "headless", "disable-gpu", "window-size=1400,1000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.binary_location = os.environ.get("CHROME_BINARY_LOCATION", path)
    return options
