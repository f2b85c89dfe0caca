"""One set of exit codes for every command, documented once in the README as a table."""

from __future__ import annotations

import re
from pathlib import Path

from mesodrive.cli import COMMANDS
from mesodrive.cli.exit_codes import ExitCode

README = Path(__file__).resolve().parents[2] / "README.md"


def _table() -> dict[int, str]:
    section = README.read_text().split("## Exit codes", 1)
    assert len(section) == 2, "README lost its exit-code section"
    rows = re.findall(r"^\| `?(\d+)`? \| (.+?) \|$", section[1].split("\n## ", 1)[0], re.MULTILINE)
    return {int(code): text for code, text in rows}


def test_the_numbers_never_change() -> None:
    # scripts depend on these: the numbers each command has always used
    assert {c.name: int(c) for c in ExitCode} == {
        "OK": 0, "FAILED": 1, "USAGE": 2, "DEVICE": 3, "ESTOPPED": 4, "INTERRUPTED": 130}


def test_the_readme_table_lists_every_code_and_nothing_else() -> None:
    assert sorted(_table()) == sorted(int(c) for c in ExitCode)


def test_the_readme_table_names_every_command() -> None:
    text = " ".join(_table().values())
    section = README.read_text().split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    for module in sorted({command.module for command in COMMANDS}):
        name = module.rsplit(".", 1)[1].removesuffix("_cmd")
        assert f"`{name}`" in section or f"`{name}`" in text, f"{name} missing from the table"
