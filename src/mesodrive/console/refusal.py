"""What the console refuses, in words for the page, and the operator name an action needs."""

from __future__ import annotations

from mesodrive.console.acting import acting_operator
from mesodrive.controller.attribution import Actor
from mesodrive.controller.treatment import TreatmentError

CONSOLE = "web console"
NAME_NEEDED = ("enter your name in the Operator field at the top of the page first (it is "
               "recorded with the action)")


class ConsoleRefusal(Exception):
    """A request the console refuses, in words for the page; nothing was changed."""


def named(operator: str | None) -> str:
    """The page's operator name (given, else the acting page's), or a refusal saying to
    enter it."""
    name = (operator if operator is not None else acting_operator()) or ""
    if not name.strip():
        raise ConsoleRefusal(NAME_NEEDED)
    return name.strip()


def acting_actor(via: str = "") -> Actor:
    """The acting page's operator (maybe nameless) as the records name them."""
    return Actor(acting_operator(), f"{CONSOLE}, {via}" if via else CONSOLE)


def words(exc: TreatmentError) -> str:
    text = str(exc)
    if exc.issues is not None:
        text += f":\n{exc.issues}"
    if exc.stop is not None:
        text += " — clear it first (the reason is recorded)"
    return text
