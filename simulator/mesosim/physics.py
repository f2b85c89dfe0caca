"""The injector's physics, stepped analytically between events (no fixed time step).

* `DeviceClock` — the device's tick counter: an offset at boot and a crystal drift in ppm.
* `Move` / `Axis` — the needle axis: trapezoidal profiles (max speed, constant acceleration);
  position is a closed-form function of time.
* `LineModel` — syringe, plunger and fluid line as one pressure node:
  ``C·dP/dt = Q_in − P/R``. Between events the inputs are constant, so the state is advanced
  with the exact solution ``P(t) = Pss + (P0 − Pss)·e^(−t/τ)`` (``Pss = Q_in·R``, ``τ = R·C``);
  the outflow and the pressure integral follow in closed form. Internal boundaries (an air
  bubble fully expelled, the syringe running dry) split a step exactly where they happen.

Everything here is the *true* state of the hardware. The firmware (`firmware/`) only sees it
through its sensors: encoders, the pressure sensor (with noise), the end stop, the contact
switch.
"""

from __future__ import annotations

import math

from mesodrive.protocol.messages import TICK_HZ


class DeviceClock:
    """Ticks at ``TICK_HZ·(1 + drift_ppm·1e-6)`` from ``offset_ticks`` at ``boot_time``."""

    def __init__(self, offset_ticks: int, drift_ppm: float, boot_time: float) -> None:
        self.offset = offset_ticks
        self.boot_time = boot_time
        self.rate = TICK_HZ * (1.0 + drift_ppm * 1e-6)

    def ticks(self, t: float) -> int:
        return self.offset + max(0, math.floor((t - self.boot_time) * self.rate))

    def time_of(self, tick: int) -> float:
        """The earliest simulated time at which the clock reads at least ``tick``."""
        t = self.boot_time + (tick - self.offset) / self.rate + 1e-9
        while self.ticks(t) < tick:  # guard against rounding; runs at most a couple of times
            t += 1e-9
        return t


class Move:
    """A point-to-point trapezoidal move (triangular when too short to reach ``vmax``)."""

    __slots__ = ("_dist", "_sign", "_ta", "_tri", "accel", "duration", "p0", "p1", "t0", "vmax")

    def __init__(self, t0: float, p0: float, p1: float, vmax: float, accel: float) -> None:
        self.t0, self.p0, self.p1 = t0, p0, p1
        self.vmax, self.accel = vmax, accel
        self._dist = abs(p1 - p0)
        self._sign = 1.0 if p1 >= p0 else -1.0
        self.duration = move_duration(self._dist, vmax, accel)
        self._tri = self._dist < vmax * vmax / accel
        self._ta = self.duration / 2 if self._tri else vmax / accel

    @property
    def t_end(self) -> float:
        return self.t0 + self.duration

    def position(self, t: float) -> float:
        tau = t - self.t0
        if tau <= 0:
            return self.p0
        if tau >= self.duration:
            return self.p1
        a, ta, T = self.accel, self._ta, self.duration
        if tau < ta:
            s = 0.5 * a * tau * tau
        elif tau > T - ta:
            r = T - tau
            s = self._dist - 0.5 * a * r * r
        else:
            s = 0.5 * a * ta * ta + self.vmax * (tau - ta)
        return self.p0 + self._sign * s


def move_duration(distance: float, vmax: float, accel: float) -> float:
    """Time of a rest-to-rest move: ``d/v + v/a`` (trapezoid) or ``2·sqrt(d/a)`` (triangle)."""
    d = abs(distance)
    if d <= 0:
        return 0.0
    if d >= vmax * vmax / accel:
        return d / vmax + vmax / accel
    return 2.0 * math.sqrt(d / accel)


class Axis:
    """The needle axis: at rest, or executing one `Move`. Positions in device µm."""

    def __init__(self, position: float) -> None:
        self._rest = position
        self.move: Move | None = None

    def position(self, t: float) -> float:
        if self.move is None:
            return self._rest
        return self.move.position(t)

    def moving(self, t: float) -> bool:
        return self.move is not None and t < self.move.t_end

    def move_to(self, t: float, target: float, vmax: float, accel: float) -> Move:
        """Start a move from wherever the axis is now (a running move is stopped first)."""
        self.move = Move(t, self.position(t), target, vmax, accel)
        self._rest = target
        return self.move

    def set(self, position: float) -> None:
        self.move = None
        self._rest = position


def expected_pressure_integral(
    flow: float, resistance: float, compliance: float, T: float
) -> float:
    """∫P dt over T seconds of constant inflow from P = 0 (the firmware's nominal line model)."""
    if T <= 0 or flow <= 0:
        return 0.0
    tau = resistance * compliance
    return flow * resistance * (T - tau * (1.0 - math.exp(-T / tau)))


class LineModel:
    """Syringe + plunger + line + needle as one pressure node (true physics).

    Units: pressure Pa, volume nL, flow nL/s, resistance Pa per nL/s, compliance nL/Pa.
    ``q_in`` is the TRUE inflow the plunger drives (hidden volume errors already applied).
    A bubble in ``air_nl`` sits at the needle: while it is there the outflow is air, whose
    viscosity is ~50x lower, so every resistance shrinks by ``air_factor`` and the pressure
    collapses; it leaves before any liquid.
    """

    def __init__(
        self,
        *,
        compliance: float,
        needle_resistance: float,
        air_factor: float,
        syringe_nl: float,
        t: float = 0.0,
    ) -> None:
        self.c = compliance
        self.r_needle = needle_resistance
        self.air_factor = air_factor
        self.occlusion = 1.0  # resistance factor of the needle (clogged: > 1)
        self.tissue_r = 0.0  # added resistance while the needle is in tissue
        self.t = t
        self.p = 0.0
        self.q_in = 0.0
        self.air_nl = 0.0
        self.syringe_nl = float(syringe_nl)  # TRUE liquid left in the syringe
        # cumulative counters
        self.displaced_nl = 0.0  # pushed into the line by the plunger
        self.liquid_out_nl = 0.0  # liquid that left the needle (a balance weighs this)
        self.air_out_nl = 0.0
        self.p_integral = 0.0  # ∫P dt, Pa·s
        self.hit_end = False  # the plunger reached the end stop while pushing

    # ---- derived ----------------------------------------------------------------------------
    def resistance(self) -> float:
        r = self.r_needle * self.occlusion + self.tissue_r
        if self.air_nl > 0:  # resistance scales with viscosity: air passes ~50x more easily
            r *= self.air_factor
        return r

    def steady_pressure(self) -> float:
        return self.q_in * self.resistance()

    # ---- inputs -----------------------------------------------------------------------------
    def set_inflow(self, q: float) -> None:
        """Set the true plunger flow from now on (caller advanced the model to now)."""
        if q > 0 and self.syringe_nl <= 0:
            self.q_in = 0.0
            self.hit_end = True  # pushing on an empty syringe: the end stop answers at once
        else:
            self.q_in = max(0.0, q)

    # ---- time -------------------------------------------------------------------------------
    def boundary(self) -> tuple[float, str] | None:
        """The next internal event under constant inputs: ("air", t) or ("empty", t)."""
        q = self.q_in
        if q <= 0:
            return None
        best: tuple[float, str] | None = (self.t + self.syringe_nl / q, "empty")
        if self.air_nl > 0:
            # Volume balance over a settled transient: q·Δt − C·(Pss − P0) leaves the needle.
            dt = (self.air_nl + self.c * (self.steady_pressure() - self.p)) / q
            t_air = self.t + max(0.0, dt)
            if best is None or t_air < best[0]:
                best = (t_air, "air")
        return best

    def advance(self, t: float) -> None:
        while True:
            b = self.boundary()
            if b is not None and b[0] <= t:
                end = max(b[0], self.t)
                self._step(end - self.t)
                self.t = end
                if b[1] == "air":
                    self.air_out_nl += self.air_nl
                    self.air_nl = 0.0
                else:
                    self.syringe_nl = 0.0
                    self.q_in = 0.0
                    self.hit_end = True
                continue
            if t > self.t:
                self._step(t - self.t)
                self.t = t
            return

    def _step(self, dt: float) -> None:
        if dt <= 0:
            return
        r = self.resistance()
        tau = r * self.c
        q = self.q_in
        pss = q * r
        e = math.exp(-dt / tau)
        p1 = pss + (self.p - pss) * e
        integral = pss * dt + (self.p - pss) * tau * (1.0 - e)
        out = max(0.0, integral / r)
        self.p_integral += integral
        disp = q * dt
        self.displaced_nl += disp
        self.syringe_nl = max(0.0, self.syringe_nl - disp)
        if self.air_nl > 0:
            air_out = min(out, self.air_nl)
            self.air_nl -= air_out
            self.air_out_nl += air_out
            self.liquid_out_nl += out - air_out
        else:
            self.liquid_out_nl += out
        self.p = p1

    def crossing_time(self, level: float, upward: bool) -> float | None:
        """When P crosses ``level`` (upward or downward) under the current inputs, or None."""
        r = self.resistance()
        tau = r * self.c
        pss = self.q_in * r
        p0 = self.p
        if upward:
            if p0 >= level or pss <= level:
                return None
        elif p0 <= level or pss >= level:
            return None
        ratio = (level - pss) / (p0 - pss)
        if not 0.0 < ratio < 1.0:
            return None
        return self.t - tau * math.log(ratio)
