"""The run's explicit state machine (DESIGN.md): every transition is listed; others raise."""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable


class RunState(enum.Enum):
    IDLE = "idle"  # created, nothing touched yet
    READY = "ready"  # device homed, primed and armed for this session
    RUNNING = "running"
    PAUSING = "pausing"  # waiting for the shot boundary (needle retracted)
    PAUSED = "paused"
    AWAITING_RECOVERY = "awaiting-recovery"  # a fault: the recovery policy decides
    STOPPING = "stopping"  # aborting: letting the current shot finish, disarming
    COMPLETED = "completed"
    ABORTED = "aborted"
    FAILED = "failed"
    ESTOPPED = "e-stopped"

    @property
    def terminal(self) -> bool:
        return self in (RunState.COMPLETED, RunState.ABORTED, RunState.FAILED, RunState.ESTOPPED)


S = RunState
_ANY_LIVE = (S.IDLE, S.READY, S.RUNNING, S.PAUSING, S.PAUSED, S.AWAITING_RECOVERY, S.STOPPING)
TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    S.IDLE: frozenset({S.READY, S.FAILED, S.ABORTED}),
    S.READY: frozenset({S.RUNNING, S.STOPPING, S.FAILED}),
    S.RUNNING: frozenset({S.PAUSING, S.AWAITING_RECOVERY, S.STOPPING, S.COMPLETED, S.FAILED}),
    S.PAUSING: frozenset({S.PAUSED, S.AWAITING_RECOVERY, S.STOPPING, S.FAILED}),
    S.PAUSED: frozenset({S.RUNNING, S.STOPPING, S.AWAITING_RECOVERY, S.FAILED}),
    S.AWAITING_RECOVERY: frozenset({S.READY, S.RUNNING, S.STOPPING, S.FAILED}),
    S.STOPPING: frozenset({S.ABORTED, S.FAILED}),
    S.COMPLETED: frozenset(),
    S.ABORTED: frozenset(),
    S.FAILED: frozenset(),
    S.ESTOPPED: frozenset(),
}
# E-stop is allowed from every live state: it is a state, not a request.
for _s in _ANY_LIVE:
    TRANSITIONS[_s] = TRANSITIONS[_s] | {S.ESTOPPED}


class IllegalTransition(RuntimeError):
    def __init__(self, current: RunState, target: RunState) -> None:
        self.current, self.target = current, target
        super().__init__(f"illegal run transition {current.value} → {target.value}")


class RunStateMachine:
    """Thread-safe current state with listeners; `go` raises IllegalTransition."""

    def __init__(self, on_change: Callable[[RunState, RunState], None] | None = None) -> None:
        self._state = RunState.IDLE
        self._lock = threading.Lock()
        self._on_change = on_change

    @property
    def state(self) -> RunState:
        return self._state

    def go(self, target: RunState) -> None:
        with self._lock:
            current = self._state
            if target not in TRANSITIONS[current]:
                raise IllegalTransition(current, target)
            self._state = target
        if self._on_change is not None:
            self._on_change(current, target)

    def can_go(self, target: RunState) -> bool:
        return target in TRANSITIONS[self._state]
