"""A simulated analytical balance speaking a subset of MT-SICS over a serial line.

The balance weighs what the simulated injector dispenses: `source()` is the cumulative
volume (nL) that has left the needle; the part dispensed since the vessel was placed lands
in the vessel. What the weighing cell sees is

    load = vessel + water(source() - source_at_placement) - evaporation + external load

with water converted to *apparent* mass (see `water.py`: reading = V / Z). The display is
`load + settling transient + noise - zero - tare`, rounded to the readability.

Behaviour (all in simulated time; every number is a constructor argument):

* **Updates.** The display updates every `update_interval_s` (0.1 s). Noise is gaussian,
  keyed to (seed, update tick), so a reading is a pure function of simulated time: the
  same seed and the same inputs give the same bytes, however often the host asks.
* **Settling.** A change of the load by more than one digit starts a settling period: the
  reading approaches the new value exponentially (`settling_tau_s`) with extra noise that
  decays the same way, and the balance reports dynamic (`D`) until at least
  `settling_time_s` has passed *and* the transient is below a quarter digit (a 10 g vessel
  settles longer than a 20 mg drop). Evaporation is a slow drift, not a change.
* **Deferred commands.** `S`, `Z` and `T` act on a stable value: if the balance is not
  stable they wait (no reply yet) and answer at the first update tick at which it is, or
  answer `<id> I` after `stability_timeout_s`. Over/underload answers `+`/`-` at once.
  While one of them waits, every other command except `@` is answered `<id> I` (busy).
* **Wire format.** Commands and replies end CR LF (a bare LF is accepted on input).
  Weight replies are `<id> <status> <value> <unit>` with the value right-aligned in a
  10-character field (sign directly before the first digit), e.g. `S S    0.02013 g`.
  A line longer than `max_line` characters or carrying a control byte is answered `ET`;
  an unknown command (commands are upper case) `ES`; a known command with wrong
  parameters `EL`; a line holding only spaces `ES`; an empty line is ignored.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from mesosim.instruments._support import LineAssembler, TickNoise, tick_index
from mesosim.instruments.mtsics_commands import COMMAND_LEVELS, MtSicsCommands, _Deferred
from mesosim.instruments.water import AIR_DENSITY_G_PER_ML, apparent_mass_g_per_nl

__all__ = ["COMMAND_LEVELS", "Balance"]


class Balance(MtSicsCommands):
    """An MT-SICS analytical balance; a `ByteDevice` (see `mesosim.transports.device`).

    `source` returns the cumulative volume dispensed so far, in nL (None: nothing is ever
    dispensed). The vessel given at construction is on the pan at `start_time`, settled;
    the balance was zeroed empty at power-on, so its first reading is the vessel's mass.
    """

    def __init__(
        self,
        source: Callable[[], float] | None = None,
        *,
        seed: int = 0,
        capacity_g: float = 220.0,
        readability_g: float = 1e-5,
        noise_sd_g: float = 2e-5,
        settling_time_s: float = 1.5,
        settling_tau_s: float = 0.15,
        stability_timeout_s: float = 10.0,
        update_interval_s: float = 0.1,
        evaporation_ug_per_s: float = 1.0,
        temperature_c: float = 20.0,
        air_density_g_per_ml: float = AIR_DENSITY_G_PER_ML,
        vessel_g: float | None = 10.0,
        zero_range_g: float | None = None,
        underload_g: float | None = None,
        serial: str = "B220000001",
        model: str = "MESOSIM-B220",
        software: str = "1.0.0",
        max_line: int = 64,
        start_time: float = 0.0,
    ) -> None:
        if readability_g <= 0 or capacity_g <= 0 or update_interval_s <= 0:
            raise ValueError("readability, capacity and update interval must be positive")
        if settling_tau_s <= 0 or settling_time_s < 0 or stability_timeout_s < 0:
            raise ValueError("settling/timeout times must be non-negative (tau positive)")
        self._source: Callable[[], float] = source if source is not None else (lambda: 0.0)
        self.seed = seed
        self.capacity_g = capacity_g
        self.readability_g = readability_g
        self.noise_sd_g = noise_sd_g
        self.settling_time_s = settling_time_s
        self.settling_tau_s = settling_tau_s
        self.stability_timeout_s = stability_timeout_s
        self.update_interval_s = update_interval_s
        self.evaporation_ug_per_s = evaporation_ug_per_s
        self.temperature_c = temperature_c
        self.g_per_nl = apparent_mass_g_per_nl(temperature_c, air_density_g_per_ml)
        self.zero_range_g = zero_range_g
        self.underload_g = underload_g if underload_g is not None else 0.05 * capacity_g
        self.serial = serial
        self.model = model
        self.software = software
        self.decimals = max(0, -math.floor(math.log10(readability_g) + 1e-9))

        self._now = float(start_time)
        self._noise = TickNoise(seed, "balance")
        self._lines = LineAssembler(max_len=max_line, terminators=b"\n", strip_cr=True)
        self._out = bytearray()

        # What is on the pan.
        self._vessel_g: float | None = None
        self._vessel_t0 = self._now
        self._v_ref_nl = 0.0
        self._external_g = 0.0
        # Zero point and tare, both in raw (unrounded) grams of load.
        self._zero_g = 0.0
        self._tare_g = 0.0
        # Settling: the load at the last detected change, when, the transient offset and
        # the extra (dynamic) noise at that moment, and when the balance will be stable.
        self._ref_load_g = 0.0
        self._change_t = -math.inf
        self._offset_g = 0.0
        self._dyn_sd_g = 0.0
        self._stable_at = -math.inf
        # Host-visible activity.
        self._sir = False
        self._deferred: _Deferred | None = None

        if vessel_g is not None:
            self._vessel_g = vessel_g
            self._v_ref_nl = self._source()
        self._ref_load_g = self._static_load_g()

    # ------------------------------------------------------------------ ByteDevice
    @property
    def now(self) -> float:
        return self._now

    def write(self, data: bytes) -> None:
        self._observe()
        for line in self._lines.feed(bytes(data)):
            self._handle(line)

    def read(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def next_wakeup(self) -> float | None:
        if self._deferred is None and not self._sir:
            return None
        return (tick_index(self._now, self.update_interval_s) + 1) * self.update_interval_s

    def advance_to(self, t: float) -> None:
        if not math.isfinite(t):
            raise ValueError(f"advance_to needs a finite time, got {t!r}")
        # The source is sampled on every call (a change is dated when it is first seen),
        # so a runner should advance the balance in step with the injector.
        if t > self._now:
            while True:
                wake = self.next_wakeup()
                if wake is None or wake > t:
                    break
                self._now = wake
                self._service()
            self._now = t
        self._observe()

    # ------------------------------------------------------------ the bench (out of band)
    def place_vessel(self, mass_g: float) -> None:
        """Put a vessel (gross, with any water already in it) on the pan. Liquid dispensed
        from now on lands in it; evaporation starts now."""
        self._vessel_g = mass_g
        self._vessel_t0 = self._now
        self._v_ref_nl = self._source()
        self._observe()

    def remove_vessel(self) -> None:
        self._vessel_g = None
        self._observe()

    @property
    def external_load_g(self) -> float:
        """Anything else on (positive) or pulling up (negative) the pan."""
        return self._external_g

    @external_load_g.setter
    def external_load_g(self, grams: float) -> None:
        self._external_g = grams
        self._observe()

    # ----------------------------------------------------------------- introspection
    @property
    def vessel_g(self) -> float | None:
        return self._vessel_g

    @property
    def zero_g(self) -> float:
        return self._zero_g

    @property
    def tare_g(self) -> float:
        return self._tare_g

    def true_load_g(self) -> float:
        """The load on the weighing cell right now (no transient, no noise)."""
        self._observe()
        return self._static_load_g() - self._evaporated_g(self._now)

    def is_stable(self) -> bool:
        self._observe()
        return self._now >= self._stable_at

    def net_reading_g(self) -> float:
        """The unrounded net value the display shows right now."""
        self._observe()
        return self._raw_g() - self._zero_g - self._tare_g

    # ------------------------------------------------------------------- the physics
    def _static_load_g(self) -> float:
        load = self._external_g
        if self._vessel_g is not None:
            load += self._vessel_g + self.g_per_nl * (self._source() - self._v_ref_nl)
        return load

    def _evaporated_g(self, t: float) -> float:
        if self._vessel_g is None:
            return 0.0
        return self.evaporation_ug_per_s * 1e-6 * max(0.0, t - self._vessel_t0)

    def _decay(self, t: float) -> float:
        return math.exp(-(t - self._change_t) / self.settling_tau_s)

    def _observe(self) -> None:
        """Sample the load; a change of more than one digit restarts settling."""
        load = self._static_load_g()
        step = load - self._ref_load_g
        if abs(step) <= self.readability_g:
            return
        now = self._now
        # The displayed mean is continuous across the change: it starts where it was.
        shown = self._ref_load_g + self._offset_g * self._decay(now)
        self._offset_g = shown - load
        self._dyn_sd_g = min(0.05 * abs(step), 2e-3)
        self._change_t = now
        self._ref_load_g = load
        quarter_digit = self.readability_g / 4
        settle = self.settling_time_s
        if abs(self._offset_g) > quarter_digit:
            settle = max(
                settle, self.settling_tau_s * math.log(abs(self._offset_g) / quarter_digit)
            )
        self._stable_at = now + settle

    def _raw_g(self) -> float:
        """The load as the cell reports it now: transient and noise included, unrounded."""
        t = self._now
        decay = self._decay(t)
        mean = self._static_load_g() - self._evaporated_g(t) + self._offset_g * decay
        sd = self.noise_sd_g + self._dyn_sd_g * decay
        return mean + sd * self._noise.at(tick_index(t, self.update_interval_s))

    def _range_status(self) -> str | None:
        """'+' (overload), '-' (underload) or None, from the true load."""
        load = self._static_load_g() - self._evaporated_g(self._now)
        if load > self.capacity_g:
            return "+"
        if load < -self.underload_g:
            return "-"
        return None

    def _zero_status(self) -> str | None:
        status = self._range_status()
        if status is not None or self.zero_range_g is None:
            return status
        load = self._static_load_g() - self._evaporated_g(self._now)
        if load > self.zero_range_g:
            return "+"
        if load < -self.zero_range_g:
            return "-"
        return None

    # ------------------------------------------------------------------- the wire
