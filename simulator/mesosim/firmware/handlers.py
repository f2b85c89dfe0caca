"""Receiving: a delivered frame -> its message -> its handler (the table keyed by message type).

`_dispatch` refuses what is not a host->device message on its channel (UNKNOWN_MESSAGE, §6)
and what does not decode (BAD_LENGTH / BAD_STRING), honours an e-stop whatever its flags, and
hands everything else to the handler `HANDLERS` names for its type: a command_reply for a
sequenced frame, an error_reply for an unsequenced one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mesodrive.protocol.codec import decode_message
from mesodrive.protocol.frame import Frame, FrameError, FrameErrorKind
from mesodrive.protocol.message_base import Channel, Message
from mesodrive.protocol.messages import (
    MESSAGES,
    Ack,
    Arm,
    CancelQueue,
    ClearFault,
    ClockQuery,
    CommandReply,
    Disarm,
    ErrorReply,
    Estop,
    GetShot,
    Heartbeat,
    Home,
    Identify,
    LinkSync,
    LoadSyringe,
    Prime,
    QueueShot,
    Result,
    SoftTrigger,
    StatusQuery,
)
from mesosim.firmware.admission import Admission
from mesosim.firmware.commands import Commands
from mesosim.firmware.queries import Queries


class Receiving(Queries, Commands, Admission):
    """Dispatch of delivered frames to the query, command and queue_shot handlers."""

    def _dispatch(self, frame: Frame) -> None:
        cls = MESSAGES.get(frame.msg_id)
        # Not a host->device message on its channel: unknown to this device (§6). An e-stop
        # that got through is honoured whatever its flags.
        if (
            cls is None
            or cls.DIRECTION == "device"
            or cls is Ack
            or (cls is not Estop and frame.sequenced != (cls.CHANNEL is Channel.SEQ))
        ):
            self._refuse(frame, Result.UNKNOWN_MESSAGE)
            return
        try:
            msg = decode_message(frame)
        except FrameError as exc:
            code = {
                FrameErrorKind.UNKNOWN_ID: Result.UNKNOWN_MESSAGE,
                FrameErrorKind.BAD_STRING: Result.BAD_STRING,
            }.get(exc.kind, Result.BAD_LENGTH)
            self._refuse(frame, code)
            return
        if isinstance(msg, Estop):
            self._on_estop(msg)
            return
        handler = HANDLERS.get(type(msg))
        if handler is None:  # pragma: no cover - every host message has a handler
            self._refuse(frame, Result.UNKNOWN_MESSAGE)
            return
        handler(self, msg)

    def _refuse(self, frame: Frame, code: Result) -> None:
        if frame.sequenced:
            self._send(CommandReply(frame.msg_id, int(code)))
        else:
            self._send(ErrorReply(frame.msg_id, int(code)))


# Keyed by message type; a handler is called as handler(device, message).
HANDLERS: dict[type[Message], Callable[[Any, Any], None]] = {
    LinkSync: Queries._on_link_sync,
    Identify: Queries._on_identify,
    ClockQuery: Queries._on_clock_query,
    StatusQuery: Queries._on_status_query,
    GetShot: Queries._on_get_shot,
    Heartbeat: Queries._on_heartbeat,
    Home: Commands._on_home,
    Prime: Commands._on_prime,
    Arm: Commands._on_arm,
    Disarm: Commands._on_disarm,
    QueueShot: Admission._on_queue_shot,
    CancelQueue: Commands._on_cancel_queue,
    ClearFault: Commands._on_clear_fault,
    SoftTrigger: Commands._on_soft_trigger,
    LoadSyringe: Commands._on_load_syringe,
}
