"""Scheduled device faults: what can go wrong inside the injector, and when.

A schedule is a tuple of ``(n, kind)``: fault ``kind`` strikes during the n-th shot *started*
since the simulator was created (1-based, counted across reboots; a shot "starts" when it
leaves the queue, i.e. at its contact check). Where each kind strikes inside that shot is
fixed so runs are reproducible (fractions of the dispense phase, see `SimConfig`):

``occlusion``
    The needle clogs at the start of shot n and stays clogged until ``clear_fault`` (the
    operator replaced it). Line pressure builds; the device faults ``OCCLUSION`` only once the
    pressure has stayed above its threshold for 300 ms (``OVERPRESSURE`` at the hard limit).
    A short shot may therefore complete and the fault strike in a later shot.
``air``
    A bubble (``air_bubble_fraction`` of the shot volume) reaches the needle at the start of
    shot n. The shot completes under-delivered; the pressure signature disagrees with the
    plunger encoder, so the device reports ``AIR`` after the shot.
``empty``
    The syringe turns out to hold only half of what shot n needs (the plunger hits its end
    stop half way through dispensing): ``EMPTY_SYRINGE``, shot aborted.
``stall``
    The plunger motor stalls at ``stall_at_fraction`` of the dispense phase; the device sees
    the encoder stop and faults ``STALL`` after ``stall_detect_s``.
``contact_lost``
    The skin-contact sensor drops at half of the dispense phase (for ``contact_loss_s``):
    ``CONTACT_LOST``, shot aborted.
``reboot``
    Power is lost at half of the dispense phase (the needle is retracted by its return spring);
    the device boots again ``boot_time_s`` later with a new nonce and no memory of the shot.
    Mid-shot is the hard case for the host: the shot was partly delivered and is unresolvable.
"""

from __future__ import annotations

from collections.abc import Iterable

FAULT_KINDS: tuple[str, ...] = ("occlusion", "air", "empty", "stall", "contact_lost", "reboot")

ShotFaults = tuple[tuple[int, str], ...]


def parse_shot_faults(spec: str, *, key: str = "faults") -> ShotFaults:
    """``"occlusion@40,reboot@75"`` -> ``((40, "occlusion"), (75, "reboot"))``.

    ValueError names the key and the offending item.
    """
    out: list[tuple[int, str]] = []
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        kind, sep, n_text = item.partition("@")
        kind = kind.strip().lower()
        if not sep:
            raise ValueError(f"{key}: {item!r} is not of the form kind@n")
        try:
            n = int(n_text)
        except ValueError:
            raise ValueError(f"{key}: {item!r}: shot number {n_text!r} is not an integer") from None
        out.append((n, kind))
    return validate_shot_faults(out, key=key)


def validate_shot_faults(
    items: Iterable[tuple[int, str]], *, key: str = "shot_faults"
) -> ShotFaults:
    out: list[tuple[int, str]] = []
    for n, kind in items:
        if kind not in FAULT_KINDS:
            raise ValueError(
                f"{key}: unknown fault kind {kind!r} (known: {', '.join(FAULT_KINDS)})"
            )
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"{key}: shot number {n!r} for {kind!r} must be an integer >= 1")
        out.append((n, kind))
    return tuple(out)


def format_shot_faults(faults: ShotFaults) -> str:
    return ",".join(f"{kind}@{n}" for n, kind in faults)


class FaultSchedule:
    """Looks up the faults due at the n-th started shot."""

    def __init__(self, faults: ShotFaults) -> None:
        self._by_shot: dict[int, list[str]] = {}
        for n, kind in faults:
            self._by_shot.setdefault(n, []).append(kind)

    def kinds_for(self, n: int) -> list[str]:
        return list(self._by_shot.get(n, ()))
