"""Hypothesis strategies for protocol messages, derived from the generated field specs."""

from __future__ import annotations

from hypothesis import strategies as st

from mesodrive.protocol.message_base import FieldSpec, Message
from mesodrive.protocol.messages import MESSAGES


def field_values(spec: FieldSpec) -> st.SearchStrategy[object]:
    if spec.str_size:
        # Printable ASCII plus a little UTF-8, never longer than the field once encoded.
        return st.text(
            alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x24F, exclude_characters="\0"),
            max_size=spec.str_size,
        ).filter(lambda s: len(s.encode()) <= spec.str_size)
    return st.integers(min_value=spec.min, max_value=spec.max)


def messages_of(cls: type[Message]) -> st.SearchStrategy[Message]:
    return st.builds(cls, **{spec.name: field_values(spec) for spec in cls.FIELDS})


any_message: st.SearchStrategy[Message] = st.one_of(
    [messages_of(cls) for cls in MESSAGES.values()]
)
