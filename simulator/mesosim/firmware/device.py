"""`SimDevice`: the simulated injector, composed of the firmware's parts, and its public API.

`SimDevice` is a deterministic discrete-event machine. Nothing happens between events: each
``advance_to(t)`` runs every internal event up to ``t`` in time order (shot phase ends,
pressure threshold crossings, the syringe running dry, dead-man and late-shot deadlines,
telemetry, link retransmissions), stepping the physics (`physics.py`) analytically between
them. ``write`` handles host bytes at the current simulated time, at once. The device never
reads the wall clock and owns its random generators (seeded from `SimConfig.seed`), so the same
sequence of ``advance_to``/``write``/sensor calls yields byte-identical output.

What the device *reports* is what its own sensors believe (encoders, a noisy pressure sensor);
the TRUE depth and volume (hidden calibration errors, noise, faults) only appear in its truth
(`truth`, `executed_log`, `true_dispensed_nl`, `true_needle_um`, ...: see `truth.py`).
"""

from __future__ import annotations

import math
import random
import secrets

from mesodrive.protocol.messages import DeviceState
from mesosim.config import SimConfig
from mesosim.device_faults import FaultSchedule
from mesosim.firmware.execution import Execution
from mesosim.firmware.handlers import Receiving
from mesosim.firmware.power import Power
from mesosim.firmware.safety import Safety
from mesosim.firmware.timers import Timers
from mesosim.firmware.truth import DeviceTruth
from mesosim.nvm import Nvm
from mesosim.physics import Axis, LineModel
from mesosim.shots import ExecutedShot


class SimDevice(Receiving, Execution, Safety, Timers, Power):
    """The simulated injector. See the module docstring and ``mesosim/README.md``."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = cfg = config or SimConfig()
        seed = cfg.seed
        # Independent streams: host queries (status noise) never perturb shot physics.
        self._rng_phys = random.Random(f"mesosim:{seed}:physics")
        self._rng_sensor = random.Random(f"mesosim:{seed}:sensor")
        self._rng_query = random.Random(f"mesosim:{seed}:query")
        # Boot nonces and clock start values are not derived from the seed: a simulator started
        # again with the same seed is a new boot of the device and must look like one (§14).
        # `reproducible` (byte-exact replays in tests) derives them from the seed instead.
        entropy = f"mesosim:{seed}:nonce" if cfg.reproducible else secrets.randbits(64)
        self._rng_nonce = random.Random(entropy)
        self.nvm = Nvm(cfg.nvm_path or None, enabled=cfg.nvm_journal)
        self._now = 0.0
        self._out = bytearray()
        self.executed_log: list[ExecutedShot] = []
        self._schedule = FaultSchedule(cfg.shot_faults)
        self._shots_started = 0
        # ---- physical state: survives reboots ------------------------------------------------
        self._line = LineModel(
            compliance=cfg.line_compliance_nl_per_pa,
            needle_resistance=cfg.needle_resistance,
            air_factor=cfg.air_viscosity_ratio,
            syringe_nl=cfg.syringe_nl,
        )
        self._axis = Axis(-cfg.park_um)
        self._depth_noise_um = 0.0
        self._external_contact = True
        self._contact_lost_until = -math.inf
        # The plunger has an absolute encoder: the device's belief of syringe content and
        # plunger travel survives a power cycle.
        self._remaining_nl = float(cfg.syringe_nl)
        self._travel_nl = 0.0
        self._plunger_rate = 0.0
        self._plunger_t = 0.0
        self._nl_per_step = 1000.0 / cfg.plunger_steps_per_ul
        # ---- power -------------------------------------------------------------------------
        self._powered = False
        self._boot_at = None
        self.boot_nonce = self._new_nonce(0)
        self.dropped_seq = 0
        self._truth = DeviceTruth(self)
        self._boot(0.0)

    # =========================================================================================
    # truth (read-only; see truth.py)
    # =========================================================================================
    @property
    def truth(self) -> DeviceTruth:
        """The device's truth: executed shots, shot book, queue, link, clock (read-only)."""
        return self._truth

    @property
    def now(self) -> float:
        """Simulated seconds since the simulator was created."""
        return self._now

    @property
    def state(self) -> DeviceState:
        return self._state if self._powered else DeviceState.BOOT

    @property
    def powered(self) -> bool:
        return self._powered

    @property
    def faults(self) -> int:
        """Active-fault bitmask (bit code-1)."""
        return self._faults if self._powered else 0

    @property
    def true_dispensed_nl(self) -> float:
        """Cumulative liquid that truly left the needle (prime included): what a balance weighs."""
        return self._line.liquid_out_nl

    @property
    def true_needle_um(self) -> float:
        """TRUE needle protrusion past the skin plane now (<= 0: retracted); a depth gauge."""
        return self._true_position(self._axis.position(self._now))

    @property
    def true_pressure_pa(self) -> float:
        return self._line.p

    @property
    def true_syringe_nl(self) -> float:
        """Liquid truly left in the syringe (the device believes `status_reply.remaining_nl`)."""
        return self._line.syringe_nl

    @property
    def contact(self) -> bool:
        return self._contact()

    def device_ticks(self) -> int:
        """The device clock now (offset and drift applied)."""
        if not self._powered:
            return self.config.clock_offset_ticks
        return self._clock.ticks(self._now)

    # =========================================================================================
    # bytes and time (the ByteDevice protocol of mesosim.transports)
    # =========================================================================================
    def write(self, data: bytes) -> None:
        """Host->device bytes arriving at the current simulated time (lost while rebooting)."""
        if not self._powered or not data:
            return
        ep = self._ep
        for frame in ep.deframer.feed(bytes(data)):
            if not self._powered:
                break
            self._last_rx = self._now  # any valid frame feeds the dead-man (§11)
            delivered = ep.link.on_frame(frame, self._now)
            if delivered is not None:
                self._dispatch(delivered)
        self._run_until(self._now)

    def read(self) -> bytes:
        """Drain the device->host bytes produced so far."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def advance_to(self, t: float) -> None:
        """Run the simulation up to simulated time ``t`` (seconds); earlier times are ignored."""
        if t > self._now:
            self._run_until(t)

    # next_wakeup() comes from timers.Timers.

    # =========================================================================================
    # the physical world (test and instrument hooks)
    # =========================================================================================
    def press_trigger(self) -> None:
        """The pedal is pressed now."""
        if not self._powered:
            return
        self._trigger()
        self._run_until(self._now)

    def set_contact(self, on: bool) -> None:
        """The skin-contact sensor's physical state (true = on the skin)."""
        self._external_contact = bool(on)
        if self._powered:
            self._check_contact()
            self._run_until(self._now)

    def lose_link(self) -> None:
        """The device's own link layer gives up (its frames go unacknowledged, §5.3): nothing
        sequenced leaves it until link_sync, and an armed device goes safe with LINK_LOST."""
        self._ep.link.lost = True
        self._flush()

    def jump_clock(self, seconds: float) -> None:
        """A faulty crystal or firmware bug: the device clock jumps by `seconds` (negative:
        backwards) without a reboot. A host must treat it as a fault (PROTOCOL.md §12.1)."""
        self._clock.offset += round(seconds * self._clock.rate)

    def power_cycle(self) -> None:
        """Power loss now; the device boots again `boot_time_s` later with a new nonce.

        Volatile state (link, queue, shot records, session, homing, faults) is lost; the
        needle is retracted by its return spring; syringe and line keep their physical state.
        ``boot_nonce`` already holds the coming boot's nonce.
        """
        self._power_off()
        if self._boot_at is not None and self._boot_at <= self._now:
            self._boot(self._now)
            self._flush()
