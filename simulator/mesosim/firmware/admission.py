"""Admission of shots: queue_shot (PROTOCOL.md §12.2) and the shot book (§12.4).

A queue_shot is first looked up in the shot book: a (session, index) the device has seen is
answered from its record and never executed a second time. A new one is checked in the
order §12.2 prescribes (`_check_shot`: the first failing check names the reason), recorded
in the book either way, and queued if admitted. A shot whose fire tick has already passed is
the host's timing failing: the device rejects it and goes to the safe state (LATE_SHOT).
"""

from __future__ import annotations

from mesodrive.protocol.messages import (
    TICK_HZ,
    DeviceState,
    Fault,
    QueueShot,
    RejectReason,
    ShotAccepted,
    ShotRejected,
    ShotStatus,
    TriggerMode,
)
from mesosim.firmware.core import ARMED_STATES, NO_INDEX, FirmwareCore, i32
from mesosim.shots import ShotRecord


class Admission(FirmwareCore):
    """queue_shot: repeats answered from the book, new shots checked and queued."""

    def _on_queue_shot(self, q: QueueShot) -> None:
        rec = self._book.get(q.session, q.index)
        if rec is not None:  # 1. repeat: never a second execution
            if not rec.same_params(q):
                self._send(ShotRejected(q.session, q.index, int(RejectReason.PARAMS_MISMATCH)))
            elif rec.status in (ShotStatus.QUEUED, ShotStatus.EXECUTING):
                self._send(ShotAccepted(q.session, q.index))
            elif rec.status is ShotStatus.DONE:
                self._send(ShotAccepted(q.session, q.index))
                if rec.result is not None:
                    self._send(rec.result)
            elif rec.status is ShotStatus.CANCELLED:
                self._send(ShotRejected(q.session, q.index, int(RejectReason.CANCELLED)))
            else:
                self._send(ShotRejected(q.session, q.index, int(rec.reason)))
            return
        reason = self._check_shot(q)
        if reason is not RejectReason.NONE:
            self._book.add(ShotRecord(q, ShotStatus.REJECTED, reason))
            self._send(ShotRejected(q.session, q.index, int(reason)))
            if reason is RejectReason.TOO_LATE:  # the host's timing failed: safe state
                self._safe_state(Fault.LATE_SHOT, i32(self._ticks() - q.fire_tick))
            return
        rec = ShotRecord(q, ShotStatus.QUEUED)
        self._book.add(rec)
        self._queue.append(rec)
        self._send(ShotAccepted(q.session, q.index))

    def _check_shot(self, q: QueueShot) -> RejectReason:
        """The §12.2 checks in their normative order; the first that fails is the reason."""
        cfg = self.config
        state = self._state
        if state is DeviceState.ESTOPPED:
            return RejectReason.ESTOPPED
        if state is DeviceState.FAULT:
            return RejectReason.FAULT_ACTIVE
        if state not in ARMED_STATES or self._disarm_pending:
            return RejectReason.NOT_ARMED
        if q.boot_nonce != self.boot_nonce:
            return RejectReason.STALE_NONCE
        if q.session != self._session:
            return RejectReason.WRONG_SESSION
        top = self._book.max_index.get(q.session)
        if q.index >= NO_INDEX or (top is not None and q.index <= top):
            return RejectReason.INDEX_ORDER
        if not (
            (q.trigger == TriggerMode.AT_TICK and cfg.timed_mode)
            or (q.trigger == TriggerMode.ON_TRIGGER and cfg.triggered_mode)
        ):
            return RejectReason.BAD_TRIGGER_MODE
        if not cfg.depth_min_um <= q.depth_um <= cfg.depth_max_um:
            return RejectReason.DEPTH_OUT_OF_RANGE
        if not cfg.volume_min_nl <= q.volume_nl <= cfg.volume_max_nl:
            return RejectReason.VOLUME_OUT_OF_RANGE
        if not cfg.flow_min_nl_s <= q.flow_nl_s <= cfg.flow_max_nl_s:
            return RejectReason.FLOW_OUT_OF_RANGE
        if not cfg.speed_min_um_s <= q.speed_um_s <= cfg.speed_max_um_s:
            return RejectReason.SPEED_OUT_OF_RANGE
        if q.dwell_ms > cfg.dwell_max_ms:
            return RejectReason.DWELL_OUT_OF_RANGE
        if len(self._queue) >= cfg.queue_len:
            return RejectReason.QUEUE_FULL
        committed = float(sum(r.params.volume_nl for r in self._queue))
        if self._active is not None:
            committed += max(0.0, self._active.q.volume_nl - self._active_encoder())
        if self._remaining_nl - committed < q.volume_nl:
            return RejectReason.INSUFFICIENT_VOLUME
        if q.trigger == TriggerMode.AT_TICK:
            now = self._ticks()
            if q.fire_tick <= now:
                return RejectReason.TOO_LATE
            if q.fire_tick > now + cfg.horizon_ms * (TICK_HZ // 1000):
                return RejectReason.BEYOND_HORIZON
        return RejectReason.NONE
