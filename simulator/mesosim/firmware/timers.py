"""Timers and the event loop: the one list of pending internal events, and running them.

`_candidates` names every event that can happen without input, each with its time and
handler; `_run_until` runs them in time order, ties in list order. That order is part of the
byte-exact contract (two events at one instant produce their messages in it), so it lives in
one list here rather than spread over the parts that handle the events. `next_wakeup` is the
earliest of them, for runners that sleep until then. Also here: the two plain timers (end of
homing/priming, telemetry).
"""

from __future__ import annotations

import math

from mesodrive.protocol.messages import DeviceState, Telemetry, TriggerMode
from mesosim.firmware.core import (
    ARMED_STATES,
    DEADMAN_S,
    LATE_TOLERANCE_TICKS,
    FirmwareCore,
    Handler,
    i32,
    u32,
)
from mesosim.firmware.phases import Activity


class Timers(FirmwareCore):
    """The event loop (see the module docstring)."""

    def next_wakeup(self) -> float | None:
        """Earliest time something happens without input (None: only on input)."""
        best: float | None = None
        for when, _ in self._candidates():
            if when == math.inf:
                continue
            if best is None or when < best:
                best = when
        if best is not None and best < self._now:
            best = self._now
        return best

    def _run_until(self, t: float) -> None:
        stuck = 0  # events handled without time moving: a handful is normal, thousands a bug
        while True:
            best: tuple[float, Handler] | None = None
            for cand in self._candidates():
                if best is None or cand[0] < best[0]:
                    best = cand
            if best is None or best[0] > t:
                break
            before = self._now
            self._set_time(max(best[0], self._now))
            best[1]()
            self._flush()
            stuck = stuck + 1 if self._now == before else 0
            if stuck > 10_000:  # pragma: no cover - a bug, not a state
                raise RuntimeError(f"mesosim: event loop stuck at t={self._now!r} ({best[1]!r})")
        self._set_time(t)
        self._flush()

    def _candidates(self) -> list[tuple[float, Handler]]:
        """(time, handler) of every pending internal event; ties resolve in list order."""
        c: list[tuple[float, Handler]] = []
        if not self._powered:
            if self._boot_at is not None:
                c.append((self._boot_at, self._on_boot))
            return c
        line = self._line
        if line.hit_end:
            c.append((self._now, self._on_physics))
        b = line.boundary()
        if b is not None:
            c.append((b[0], self._on_physics))
        if self._monitoring:
            thr = self.config.occlusion_threshold_pa
            if self._over_since is None:
                tc = line.crossing_time(thr, upward=True)
                if tc is not None:
                    c.append((tc, self._on_pressure_up))
            else:
                tc = line.crossing_time(thr, upward=False)
                if tc is not None:
                    c.append((tc, self._on_pressure_down))
                c.append((self._over_since + self.config.occlusion_persist_s, self._on_occlusion))
            to = line.crossing_time(self.config.overpressure_pa, upward=True)
            if to is not None:
                c.append((to, self._on_overpressure))
        if self._activity_end is not None:
            c.append((self._activity_end, self._on_activity_end))
        sh = self._active
        if sh is not None:
            c.append((sh.phase_end, self._on_phase_end))
            for name, when in sh.timers.items():
                c.append((when, self._injected_handler(name)))
        if self._queue:
            head = self._queue[0]
            if (
                self._state is DeviceState.ARMED
                and self._active is None
                and not self._disarm_pending
                and head.params.trigger == TriggerMode.AT_TICK
            ):
                c.append((self._clock.time_of(head.params.fire_tick), self._on_fire_time))
            late: float | None = None
            for rec in self._queue:
                if rec.params.trigger == TriggerMode.AT_TICK:
                    when = self._clock.time_of(rec.params.fire_tick + LATE_TOLERANCE_TICKS + 1)
                    if late is None or when < late:
                        late = when
            if late is not None:
                c.append((late, self._on_late))
        if self._state in ARMED_STATES:
            c.append((self._last_rx + DEADMAN_S * self._host_silence_scale(), self._on_deadman))
            if self._telemetry_s > 0:
                c.append((self._next_telemetry, self._on_telemetry))
        d = self._ep.link.next_deadline()
        if d is not None:
            c.append((d, self._flush))
        return c

    # ---- the plain timers ----------------------------------------------------------------------
    def _on_activity_end(self) -> None:
        activity = self._activity
        self._activity = None
        self._activity_end = None
        if activity is Activity.HOMING:
            self._axis.set(-self.config.park_um)
            self._homed = True
            self._set_state(DeviceState.READY)
        elif activity is Activity.PRIMING:
            self._set_plunger_rate(0.0)
            self._line.set_inflow(0.0)
            self._stop_monitoring()
            self._set_state(DeviceState.READY)

    def _on_telemetry(self) -> None:
        self._send(
            Telemetry(
                tick=self._ticks(),
                state=int(self._state),
                needle_um=i32(self._axis.position(self._now)),
                pressure_pa=i32(self._measure_pressure(self._rng_query)),
                remaining_nl=u32(self._remaining_nl),
                contact=int(self._contact()),
            )
        )
        self._next_telemetry += self._telemetry_s
        if self._next_telemetry <= self._now:
            self._next_telemetry = self._now + self._telemetry_s
