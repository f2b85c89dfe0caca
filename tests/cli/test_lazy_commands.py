"""Commands load lazily (issue 13): `mesodrive --help` imports no command and `plan check` only
its own, yet every help text, parse and exit code is what the eagerly built parser gives."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mesodrive.cli import COMMANDS, build_parser, main
from mesodrive.cli.lazy_commands import Command, LazyCommands
from tests.cli.test_help import PARSERS

FACE = str(Path(__file__).resolve().parents[2] / "examples" / "face.toml")


def _help_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(("path", "parser"), PARSERS, ids=[" ".join(p) for p, _ in PARSERS])
def test_every_help_through_main_is_the_eager_parsers_help(
        path: tuple[str, ...], parser: argparse.ArgumentParser,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert _help_of(list(path[1:]), capsys) == parser.format_help()


@pytest.mark.parametrize("command", COMMANDS, ids=[c.name for c in COMMANDS])
def test_the_tables_help_line_is_the_one_the_module_registers(command: Command) -> None:
    declared = argparse._SubParsersAction(option_strings=[], prog="mesodrive",
                                          parser_class=argparse.ArgumentParser)
    importlib.import_module(command.module).register(declared)
    lines = {a.dest: a.help for a in declared._choices_actions}
    assert lines.get(command.name) == command.help


def test_the_table_lists_each_command_once() -> None:
    names = [c.name for c in COMMANDS]
    assert len(names) == len(set(names))


def test_a_lazy_parser_loads_only_the_chosen_command() -> None:
    parser = build_parser(lazy=True)
    sub = next(a for a in parser._actions if isinstance(a, LazyCommands))
    args = parser.parse_args(["plan", "check", "x.toml", "--json"])
    assert args.plan_action == "check" and args.json and callable(args.func)
    assert sub._pending.keys() == {c.name for c in COMMANDS} - {"plan"}


def test_a_table_entry_whose_module_does_not_declare_it_is_an_error() -> None:
    parser = argparse.ArgumentParser(prog="mesodrive")
    sub = parser.add_subparsers(dest="command", action=LazyCommands)
    assert isinstance(sub, LazyCommands)
    sub.add_lazy(Command("nothing", "mesodrive.cli.demo_cmd", "declared nowhere"))
    with pytest.raises(RuntimeError, match="does not declare the command 'nothing'"):
        parser.parse_args(["nothing"])


@pytest.mark.parametrize("argv", [["nope"], [], ["plan"], ["plan", "check"],
                                  ["records", "show", "x"]])
def test_usage_errors_are_the_eager_parsers_errors(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as lazy:
        main(argv)
    lazy_err = capsys.readouterr().err
    with pytest.raises(SystemExit) as eager:
        build_parser().parse_args(argv)
    assert lazy.value.code == eager.value.code == 2
    assert lazy_err == capsys.readouterr().err and "error:" in lazy_err


def _modules_after(argv: list[str]) -> set[str]:
    """The modules a fresh `mesodrive ARGV` process has imported when it is done."""
    code = (f"import sys, json\nfrom mesodrive.cli import main\ntry:\n    main({argv!r})\n"
            "except SystemExit:\n    pass\nsys.stderr.write('\\nMODULES' + json.dumps("
            "sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=False)
    return set(json.loads(out.stderr.rsplit("MODULES", 1)[1]))


def _heavy(modules: set[str], *prefixes: str) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in prefixes
                  or any(m == p or m.startswith(p + ".") for p in prefixes))


def test_help_imports_no_command_and_no_heavy_library() -> None:
    loaded = _modules_after(["--help"])
    assert _heavy(loaded, "numpy", "pydantic", "rich", "matplotlib", "mesosim", "sqlite3",
                  "mesodrive.plan", "mesodrive.records", "mesodrive.driver",
                  "mesodrive.controller", "mesodrive.protocol", "mesodrive.console") == []
    assert not [m for m in loaded if m.endswith("_cmd")]


def test_plan_check_imports_the_plan_and_nothing_it_does_not_need() -> None:
    loaded = _modules_after(["plan", "check", FACE])
    assert "mesodrive.plan.validate" in loaded  # it did check the plan
    assert _heavy(loaded, "rich", "matplotlib", "mesosim", "sqlite3", "mesodrive.records",
                  "mesodrive.driver", "mesodrive.controller", "mesodrive.protocol",
                  "mesodrive.console", "mesodrive.calibration") == []
    assert [m for m in loaded if m.endswith("_cmd")] == ["mesodrive.cli.plan_cmd"]


def test_records_commands_do_not_load_the_plan_package() -> None:
    # `records course` lives in the records command; its name check must not drag the plan
    # package (pydantic, numpy) into every `records` invocation.
    loaded = _modules_after(["records", "--help"])
    assert _heavy(loaded, "numpy", "pydantic", "matplotlib", "mesosim", "mesodrive.plan",
                  "mesodrive.driver", "mesodrive.controller", "mesodrive.console") == []


def test_the_summarys_duration_words_are_the_maps() -> None:
    from mesodrive.cli import pictures, plan_cmd

    for seconds in (0, 0.4, 59.5, 60, 61, 3599.4, 7265):
        assert plan_cmd.duration(seconds) == pictures.duration(seconds)
