"""The console as a NiceGUI main file: the test fixtures run this (configuration from the
environment, `config.ENV`); `mesodrive console` serves the same pages through `command`."""

from __future__ import annotations

from nicegui import ui

from mesodrive.console.config import ConsoleConfig
from mesodrive.console.pages import build

if __name__ in {"__main__", "__mp_main__"}:
    build(ConsoleConfig.from_env())
    ui.run(host="127.0.0.1", reload=False, show=False, title="mesodrive console")
