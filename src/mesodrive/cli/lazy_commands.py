"""Commands imported only when they are chosen, so `mesodrive --help` and a light command start
in a fraction of the time it takes to import every command (and pydantic, numpy, rich, the
driver and the simulator behind them).

`mesodrive --help` shows each command's name and one-line help: those come from the table of
`Command`s, which imports nothing. The command's own module (whose `register(subparsers)`
declares its arguments and sets `func`) is imported when argparse picks that command: its real
parser then replaces the stub, and parsing, its `--help` and its exit codes are exactly what
the module declares. `build_parser(lazy=False)` in `cli` builds every command up front (the
help tests walk that tree; a test checks the table's help lines against the modules').
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    _Base = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    _Base = argparse._SubParsersAction


@dataclass(frozen=True)
class Command:
    """One `mesodrive COMMAND`: its name, the module whose `register(sub)` declares it (one
    module may declare several, as `run_cmd` does `run` and `resume`), and its line in
    `mesodrive --help` (the same words the module passes as `help=`)."""

    name: str
    module: str
    help: str


class LazyCommands(_Base):
    """The COMMAND argument: a stub parser per command until the command is chosen."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: dict[str, str] = {}  # command -> module not imported yet
        self._finish: Callable[[argparse.ArgumentParser], None] = lambda _parser: None

    def add_lazy(self, command: Command) -> None:
        self.add_parser(command.name, help=command.help)
        self._pending[command.name] = command.module

    def on_load(self, finish: Callable[[argparse.ArgumentParser], None]) -> None:
        """Called with each real command parser as it is built (the exit-code epilog)."""
        self._finish = finish

    def load(self, name: str) -> None:
        """Import the module that declares `name` and put its real parsers in place."""
        module = self._pending.get(name)
        if module is None:
            return
        real = argparse._SubParsersAction(option_strings=[], prog=self._prog_prefix,
                                          parser_class=self._parser_class)
        importlib.import_module(module).register(real)
        for declared, parser in real.choices.items():
            if self._pending.get(declared) == module:
                self._finish(parser)
                self._name_parser_map[declared] = parser
                del self._pending[declared]
        if name in self._pending:  # the table names a module that does not declare it
            raise RuntimeError(f"{module} does not declare the command {name!r}")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        if isinstance(values, Sequence) and values and isinstance(values[0], str):
            self.load(values[0])
        super().__call__(parser, namespace, values, option_string)
