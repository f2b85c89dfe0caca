"""Which page's operator a station call acts for, when its caller does not say.

Every action from a page is recorded with the name entered on that page (not one name for the
whole server). The views pass it explicitly; a screen that calls the station without it (the
header's Clear) still acts for its page: `ui_helpers.attempt` runs every station call with the
page's operator set here, in a context of its own (a pool thread carries no context of its
own, and another page's call never sees this one's name). No NiceGUI here: the station reads it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
_ACTING: contextvars.ContextVar[str | None] = contextvars.ContextVar("mesodrive_console_operator",
                                                                     default=None)


def acting_operator() -> str | None:
    """The operator of the page this call came from (None: none entered, or not from a page)."""
    return _ACTING.get()


def acting_as(operator: str | None, fn: Callable[[], T]) -> Callable[[], T]:
    """`fn`, to be run (in any thread) as `operator`'s."""
    ctx = contextvars.copy_context()
    ctx.run(_ACTING.set, operator)
    return lambda: ctx.run(fn)
