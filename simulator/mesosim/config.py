"""Simulator configuration: capabilities, hidden errors, physics, scheduled faults, link faults.

Every default is documented in ``simulator/mesosim/README.md``. The *hidden* calibration errors
(depth offset/scale, volume gain/offset, clock offset/drift) are deliberately non-zero: the
device reports what its own sensors believe, so host-side calibration has something real to
discover. Set them to 0 / 1 (``depth_offset_um=0&depth_scale=1&...``) for an ideal device.

``SimConfig.from_query`` parses the query part of a ``sim://`` URL, e.g.
``seed=3&realtime=1&faults=occlusion@40,reboot@75&drift_ppm=100&link=drop:0.01,split:0.2``.

`SimConfig` is a frozen pydantic model that refuses unknown fields: values are converted to
their field's type (``"3"`` or ``3.0`` for an int field -> ``3``; an int for a float field ->
a float) and every range rule is checked at construction. ``cfg.replace(**changes)`` is a
*validated* copy (pydantic's ``model_copy(update=...)`` does not validate). `LinkFaults` stays a
frozen dataclass: small, positional, and validated by pydantic as a field of `SimConfig`.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mesosim.device_faults import (
    ShotFaults,
    format_shot_faults,
    parse_shot_faults,
    validate_shot_faults,
)
from mesosim.link_faults import LinkFaults

# Catalogue ranges of queue_shot (messages.toml): device capabilities never exceed them.
_CATALOGUE = {
    "depth": (500, 4500),
    "volume": (100, 500_000),
    "flow": (100, 1_000_000),
    "speed": (1000, 500_000),
    "dwell": (0, 5000),
}


class SimConfig(BaseModel):
    """Everything a simulated injector is: capabilities, hidden errors, physics, faults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # ---- run --------------------------------------------------------------------------------
    seed: int = 1
    realtime: bool = False  # for runners: pace advance_to by the wall clock (device ignores it)
    speed: float = 1.0  # real-time runners: simulated seconds per wall second (time warp)
    serial: str = "SIM-0001"
    # Boot nonces and boot clock values from the seed (byte-exact replays) instead of fresh
    # randomness. Never for a simulator that outlives a host process: two processes with one
    # seed would then be indistinguishable boots of one device.
    reproducible: bool = False
    # A firmware without a non-volatile shot journal (it answers UNKNOWN for past boots).
    nvm_journal: bool = True
    # Test fault: every boot_event is lost on the way (the host must notice reboots otherwise).
    lose_boot_event: bool = False
    # Time-warped real time (realtime=1, speed K > 1): the host's silence is judged on the wall
    # clock, i.e. the dead-man and the no-start-after-silence windows are K× longer in simulated
    # time (see README "Real time"). True judges it in simulated time: K× stricter than the
    # protocol asks of a real host.
    warp_watchdogs_in_sim_time: bool = False
    # Non-volatile shot journal file (mesosim/nvm.py); "" = in memory (survives power cycles
    # of this simulator, not a restart of its process).
    nvm_path: str = ""
    # Truth log (JSON lines, mesosim/transports/shotlog.py) for in-process simulators.
    shot_log: str = ""
    firmware: str = "mesosim 0.1.0"

    # ---- device clock (hidden: the host must estimate both) ---------------------------------
    clock_offset_ticks: int = 987_654_321_000  # tick value at boot (~11.4 days of uptime)
    clock_drift_ppm: float = 35.0  # device crystal runs 35 ppm fast

    # ---- hidden calibration errors (TRUE = commanded * scale + offset) ----------------------
    depth_offset_um: float = 120.0  # needle zero sits 0.12 mm proud of the skin plane
    depth_scale: float = 0.955  # lead-screw pitch 4.5 % short
    volume_gain: float = 1.03  # syringe bore 1.5 % wider than nominal -> +3 % volume
    volume_offset_nl: float = -120.0  # per actuation: backlash / seal compression swallows 120 nL

    # ---- capabilities (identity; also the device's hard limits) ----------------------------
    # Mechanical travel, in the device's own frame: wider than the 1-4 mm treatment range
    # (which is the host's rule on the TRUE depth), so a calibration profile can correct the
    # hidden depth errors at both ends: true 1 mm needs 0.92 mm, true 4 mm 4.06 mm here.
    depth_min_um: int = 800
    depth_max_um: int = 4200
    volume_min_nl: int = 500
    volume_max_nl: int = 200_000
    flow_min_nl_s: int = 1_000
    flow_max_nl_s: int = 100_000
    speed_min_um_s: int = 5_000
    speed_max_um_s: int = 200_000  # also the retraction speed
    dwell_max_ms: int = 3000
    syringe_nl: int = 10_000_000  # capacity; a full syringe is fitted and the line primed at boot
    queue_len: int = 32
    horizon_ms: int = 3000
    contact_sensor: bool = True
    timed_mode: bool = True
    triggered_mode: bool = True
    min_telemetry_ms: int = 10  # shorter arm.telemetry_ms periods are raised to this

    # ---- mechanics --------------------------------------------------------------------------
    needle_accel_um_s2: float = 20_000_000.0  # 20 m/s^2
    park_um: float = 1500.0  # retracted needle sits this far behind the skin plane
    homing_s: float = 0.5
    plunger_steps_per_ul: int = 200  # encoder resolution 5 nL
    boot_time_s: float = 0.1  # power-cycle -> boot_event

    # ---- noise ------------------------------------------------------------------------------
    depth_noise_um: float = 8.0  # true per-shot depth repeatability (1 sigma)
    depth_encoder_noise_um: float = 2.0  # noise of the depth the device reports
    # True per-actuation volume repeatability (relative, 1 sigma). 0.1 %: a syringe drive's
    # lead screw and bore; 0.3 % (the old default) equalled ISO 8655-2's CV limit at 100 uL,
    # i.e. a borderline non-conforming device that no calibration can fix.
    volume_cv: float = 0.001
    pressure_noise_pa: float = 400.0  # pressure sensor noise (1 sigma)

    # ---- fluid line (first-order: C dP/dt = Q_in - P / R) ------------------------------------
    line_compliance_nl_per_pa: float = 0.004
    needle_resistance: float = 1.5  # Pa per nL/s (30G needle, liquid)
    tissue_resistance: float = 2.5  # Pa per nL/s, added while the needle is in tissue
    tissue_resistance_sigma: float = 0.12  # per-shot log-normal spread of tissue resistance
    air_viscosity_ratio: float = 0.02  # resistances shrink by this while air passes
    occlusion_factor: float = 200.0  # a clogged needle multiplies its resistance by this
    occlusion_threshold_pa: int = 600_000
    occlusion_persist_s: float = 0.3  # PROTOCOL.md §12.3
    overpressure_pa: int = 2_500_000  # hard limit: faults at once
    air_ratio_threshold: float = 0.7  # measured/expected pressure integral below -> AIR
    reload_air_nl: float = 5000.0  # air let in by load_syringe; prime pushes it out

    # ---- scheduled faults --------------------------------------------------------------------
    shot_faults: ShotFaults = ()
    air_bubble_fraction: float = 0.5  # air@n: bubble volume as a fraction of shot n's volume
    stall_at_fraction: float = 0.4  # stall@n: plunger stalls at this fraction of dispensing
    stall_detect_s: float = 0.02
    contact_loss_s: float = 0.5  # contact_lost@n: sensor reads 0 for this long

    # ---- link faults (applied by the transport layer, not by SimDevice) ----------------------
    host_to_device: LinkFaults = Field(default_factory=LinkFaults)
    device_to_host: LinkFaults = Field(default_factory=LinkFaults)

    @field_validator("shot_faults", mode="after")
    @classmethod
    def _valid_shot_faults(cls, value: ShotFaults) -> ShotFaults:
        return validate_shot_faults(value)

    @model_validator(mode="after")
    def _check(self) -> SimConfig:
        self._check_ranges()
        return self

    def replace(self, **changes: Any) -> SimConfig:
        """A validated copy with ``changes`` (what ``dataclasses.replace`` did for a dataclass)."""
        return type(self)(
            **{**{name: getattr(self, name) for name in type(self).model_fields}, **changes}
        )

    def _check_ranges(self) -> None:
        lo, hi = _CATALOGUE["depth"]
        if not lo <= self.depth_min_um <= self.depth_max_um <= hi:
            raise ValueError(
                f"depth range {self.depth_min_um}-{self.depth_max_um} um outside {lo}-{hi}"
            )
        for name in ("volume", "flow", "speed"):
            unit = {"volume": "nl", "flow": "nl_s", "speed": "um_s"}[name]
            vmin = getattr(self, f"{name}_min_{unit}")
            vmax = getattr(self, f"{name}_max_{unit}")
            lo, hi = _CATALOGUE[name]
            if not lo <= vmin <= vmax <= hi:
                raise ValueError(f"{name} range {vmin}-{vmax} outside catalogue range {lo}-{hi}")
        if not 0 <= self.dwell_max_ms <= _CATALOGUE["dwell"][1]:
            raise ValueError(f"dwell_max_ms={self.dwell_max_ms} outside 0-{_CATALOGUE['dwell'][1]}")
        if not 1 <= self.queue_len <= 255:
            raise ValueError(f"queue_len={self.queue_len} outside 1-255")
        if not 0 < self.speed <= 1000:
            raise ValueError(f"speed={self.speed} outside (0, 1000]")
        if self.horizon_ms < 1:
            raise ValueError(f"horizon_ms={self.horizon_ms} must be >= 1")
        if not 1 <= self.syringe_nl <= 100_000_000:
            raise ValueError(f"syringe_nl={self.syringe_nl} outside 1-100000000")
        if not 0 <= self.clock_offset_ticks < 2**63:
            raise ValueError(f"clock_offset_ticks={self.clock_offset_ticks} outside 0-2^63")
        if not -1000.0 <= self.clock_drift_ppm <= 1000.0:
            raise ValueError(f"clock_drift_ppm={self.clock_drift_ppm} outside -1000..1000")
        if self.depth_scale <= 0 or self.volume_gain <= 0:
            raise ValueError("depth_scale and volume_gain must be > 0")
        positive = (
            "needle_accel_um_s2",
            "line_compliance_nl_per_pa",
            "needle_resistance",
            "air_viscosity_ratio",
            "occlusion_factor",
            "plunger_steps_per_ul",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}={getattr(self, name)!r} must be > 0")
        non_negative = (
            "park_um",
            "homing_s",
            "boot_time_s",
            "depth_noise_um",
            "depth_encoder_noise_um",
            "volume_cv",
            "pressure_noise_pa",
            "tissue_resistance",
            "tissue_resistance_sigma",
            "reload_air_nl",
            "stall_detect_s",
            "contact_loss_s",
            "occlusion_persist_s",
        )
        for name in non_negative:
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name}={getattr(self, name)!r} must be >= 0")
        for name in ("air_bubble_fraction", "stall_at_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}={getattr(self, name)!r} outside [0, 1]")
        if len(self.serial.encode()) > 16 or len(self.firmware.encode()) > 16:
            raise ValueError("serial and firmware must fit 16 bytes of UTF-8")

    # ---- URL query strings ------------------------------------------------------------------
    # Short names accepted in queries besides every field name.
    QUERY_ALIASES: ClassVar[dict[str, str]] = {
        "faults": "shot_faults",
        "drift_ppm": "clock_drift_ppm",
        "drift": "clock_drift_ppm",
        "offset_ticks": "clock_offset_ticks",
        "clock_offset": "clock_offset_ticks",
        "nvm": "nvm_path",
    }

    @classmethod
    def from_query(cls, query: str) -> SimConfig:
        """Parse ``key=value&...`` (the query of a ``sim://`` URL; a leading ``?`` is fine).

        Keys: every field name, plus ``faults`` (``kind@n,...``), ``drift_ppm``,
        ``offset_ticks``, ``link`` (both directions), ``link_h2d``, ``link_d2h``
        (``drop:p,dup:p,corrupt:p,delay:p,split:p``; per-direction keys override ``link``).
        Unknown keys, repeated keys and bad values raise ValueError naming key and value.
        """
        query = query.lstrip("?")
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
        except ValueError:
            raise ValueError(f"malformed simulator query {query!r}") from None
        by_name = cls.model_fields
        kwargs: dict[str, Any] = {}
        link_both: LinkFaults | None = None
        link_dir: dict[str, str] = {}
        seen: set[str] = set()
        for key, value in pairs:
            if key in seen:
                raise ValueError(f"simulator option {key!r} given twice (value {value!r})")
            seen.add(key)
            if key == "link":
                link_both = LinkFaults.parse(value, key=key)
                continue
            if key in ("link_h2d", "link_d2h"):
                LinkFaults.parse(value, key=key)  # validate now, combine below
                link_dir[key] = value
                continue
            name = cls.QUERY_ALIASES.get(key, key)
            f = by_name.get(name)
            if f is None or name in ("host_to_device", "device_to_host"):
                raise ValueError(f"unknown simulator option {key!r} (value {value!r})")
            if name in kwargs:
                raise ValueError(f"simulator option {key!r} given twice (value {value!r})")
            kwargs[name] = _parse_value(key, name, value, f.default)
        if link_both is not None or link_dir:
            base = link_both or LinkFaults()
            kwargs["host_to_device"] = (
                LinkFaults.parse(link_dir["link_h2d"], key="link_h2d", base=base)
                if "link_h2d" in link_dir
                else base
            )
            kwargs["device_to_host"] = (
                LinkFaults.parse(link_dir["link_d2h"], key="link_d2h", base=base)
                if "link_d2h" in link_dir
                else base
            )
        try:
            return cls(**kwargs)
        except ValidationError as exc:
            raise ValueError(f"simulator options {query!r}: {_first_error(exc)}") from None
        except ValueError as exc:
            raise ValueError(f"simulator options {query!r}: {exc}") from None

    def to_query(self) -> str:
        """The query string of the non-default options (``from_query`` round-trips it)."""
        default = SimConfig()
        parts: list[str] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value == getattr(default, name):
                continue
            if name == "shot_faults":
                parts.append(f"faults={format_shot_faults(value)}")
            elif name == "host_to_device":
                parts.append(f"link_h2d={value.format()}")
            elif name == "device_to_host":
                parts.append(f"link_d2h={value.format()}")
            elif isinstance(value, bool):
                parts.append(f"{name}={int(value)}")
            else:
                parts.append(f"{name}={value}")
        return "&".join(parts)


def _first_error(exc: ValidationError) -> str:
    """The message of a validation error without pydantic's decoration (one line, our words)."""
    err = exc.errors()[0]
    inner = (err.get("ctx") or {}).get("error")
    if inner is not None:
        return str(inner)
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']} (got {err.get('input')!r})" if where else str(err["msg"])


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse_value(key: str, name: str, text: str, default: Any) -> Any:
    if name == "shot_faults":
        return parse_shot_faults(text, key=key)
    if isinstance(default, bool):
        low = text.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(f"simulator option {key}={text!r}: expected 0/1/true/false")
    if isinstance(default, int):
        try:
            t = text.strip().replace("_", "")
            return int(t, 16) if t.lower().startswith("0x") else int(t)
        except ValueError:
            raise ValueError(f"simulator option {key}={text!r}: expected an integer") from None
    if isinstance(default, float):
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"simulator option {key}={text!r}: expected a number") from None
        if not math.isfinite(value):
            raise ValueError(f"simulator option {key}={text!r}: expected a finite number")
        return value
    if isinstance(default, str):
        return text
    raise ValueError(f"simulator option {key}={text!r} cannot be set from a query")
