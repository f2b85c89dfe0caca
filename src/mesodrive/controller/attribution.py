"""Who did an operator action, when the code that records it is not the one asked to do it.

The run engine records pause, resume, abort, e-stop, skip and the recovery answers from its
own thread, at the moment each takes effect (Part 11: on the record before it acts), and it
knows no names. A front end with one operator (the CLI) lets the record store stamp that one
name on every action. A front end with several (the web console: a name per page) must say
who asked: before it asks the engine, it *claims* the action for a person (`claim`); the next
record of that action in that session carries the claimant's name, and the claimant's reason
when one was given. A claim is used once; a request refused before it reached the engine
withdraws its claim (`withdraw`), so a later action is never stamped with a stale name.

Resolution, for an action recorded without an explicit operator: its claim, else the person
responsible for the session (who started or resumed it, `responsible`), else the store's
default. An `Actor` without a name (a console page where nobody entered one: stopping is never
refused for that) is recorded with no operator and says so in the reason, never as someone else.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from mesodrive.records import RecordStore

UNNAMED = "no operator name was entered"


@dataclass(frozen=True)
class Actor:
    """The person behind an action; `name` None: the front end has no name for them."""

    name: str | None
    via: str = ""  # where the action came from ("web console", "web console, Escape key")
    automatic: bool = False  # the front end acted on its own (a lost page): no person, no name

    def note(self, reason: str) -> str:
        """The reason as recorded: with where it came from and, without a name, saying so."""
        unnamed = self.name is None and not self.automatic
        extra = [x for x in (self.via, UNNAMED if unnamed else "") if x]
        return f"{reason} ({'; '.join(extra)})" if extra else reason


@dataclass(frozen=True)
class _Claim:
    actor: Actor
    reason: str


class Attributions:
    """Claims on actions not yet recorded, and who is responsible for each session (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._claims: dict[tuple[int, str], _Claim] = {}
        self._responsible: dict[int, str | None] = {}

    def claim(self, session: int, action: str, actor: Actor, reason: str = "") -> None:
        with self._lock:
            self._claims[(session, action)] = _Claim(actor, reason.strip())

    def withdraw(self, session: int, action: str) -> None:
        with self._lock:
            self._claims.pop((session, action), None)

    def responsible(self, session: int, name: str | None) -> None:
        """`name` answers for the session's actions that nobody claimed (refills, overrides)."""
        with self._lock:
            self._responsible[session] = name

    def resolve(self, session: int, action: str, reason: str,
                default: str | None) -> tuple[str | None, str]:
        """(operator, reason) for an action recorded without an explicit operator."""
        with self._lock:
            claim = self._claims.pop((session, action), None)
            if claim is not None:
                return claim.actor.name, claim.actor.note(claim.reason or reason)
            if session in self._responsible:
                return self._responsible[session], reason
        return default, reason


def record_by(store: RecordStore, session: int, action: str, reason: str, by: Actor) -> None:
    """Record an action as exactly `by` did it, now: a nameless actor gets no operator, never
    a default name (the base store's method, past any default-stamping subclass)."""
    RecordStore.record_action(store, session, action, by.note(reason), operator=by.name)
