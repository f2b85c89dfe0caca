"""Help that helps (issue 14): every command says what it does, every option has a help text,
every help ends with the exit codes, and `run --help` names the keys."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator

import pytest

from mesodrive.cli import build_parser
from mesodrive.cli.exit_codes import ExitCode


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("mesodrive",),
             ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


PARSERS = list(_parsers(build_parser()))


@pytest.mark.parametrize(("path", "parser"), PARSERS, ids=[" ".join(p) for p, _ in PARSERS])
def test_every_help_has_its_options_explained_and_ends_with_the_exit_codes(
        path: tuple[str, ...], parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction,
                               argparse._SubParsersAction)):
            continue
        assert action.help, f"{' '.join(path)}: {action.option_strings or action.dest} has no help"
    text = parser.format_help()
    for code in ExitCode:
        assert f"  {int(code):>3}  " in text, f"{' '.join(path)}: exit code {int(code)} missing"


def test_the_top_level_help_is_for_users_not_a_cut_docstring() -> None:
    text = build_parser().format_help()
    assert "registers itself" not in text and "COMMAND --help" in text
    assert "SIMULATOR" in text


def test_run_help_names_the_keys() -> None:
    run = dict(PARSERS)[("mesodrive", "run")]
    text = run.format_help()
    for key in ("Ctrl-C", "Ctrl-\\", "e Enter", "EMERGENCY STOP", "triggered mode", "resume"):
        assert key in text, key


def test_help_exits_0_through_the_real_entry_point() -> None:
    out = subprocess.run([sys.executable, "-m", "mesodrive", "--help"], capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 0 and "exit codes:" in out.stdout and not out.stderr
