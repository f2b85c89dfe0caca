"""The run state machine: only listed transitions happen; everything else raises."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from mesodrive.controller.states import TRANSITIONS, IllegalTransition, RunState, RunStateMachine


class StateMachineModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[RunState, RunState]] = []
        self.sm = RunStateMachine(lambda old, new: self.seen.append((old, new)))
        self.model = RunState.IDLE

    @rule(state=st.sampled_from(list(RunState)))
    def go(self, state: RunState) -> None:
        if state in TRANSITIONS[self.model]:
            before = self.model
            self.sm.go(state)
            self.model = state
            assert self.seen[-1] == (before, state)
        else:
            with pytest.raises(IllegalTransition):
                self.sm.go(state)

    @invariant()
    def matches_model(self) -> None:
        assert self.sm.state is self.model

    @invariant()
    def terminal_states_are_final(self) -> None:
        if self.model.terminal:
            assert not any(self.sm.can_go(s) for s in RunState)


TestStateMachine = StateMachineModel.TestCase


def test_estop_is_reachable_from_every_live_state() -> None:
    for state in RunState:
        assert (RunState.ESTOPPED in TRANSITIONS[state]) is (not state.terminal)
