"""Fixtures: an Injector connected to the simulator, and access to the device's truth."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mesodrive.driver.injector import Injector
from mesodrive.driver.shots import Shot, ShotRequest
from mesodrive.driver.transports.serial import SerialTransport


def sim_port(inj: Injector) -> Any:
    """The simulator's pyserial port behind a sim:// injector (`sim_call`, `sim_device`)."""
    transport = inj.transport
    assert isinstance(transport, SerialTransport), transport
    return transport.port


def device_truth(inj: Injector, fn: Callable[[Any], Any]) -> Any:
    """Run fn(SimDevice) inside the simulator behind a sim:// transport (under its lock)."""
    from mesosim.transports import inner_device

    return sim_port(inj).sim_call(lambda dev: fn(inner_device(dev)))


def executed(inj: Injector) -> list[Any]:
    return device_truth(inj, lambda d: list(d.executed_log))


def fast_shot(index: int, fire_at: float | None, depth_mm: float = 1.5) -> ShotRequest:
    """A short shot (~0.15 s on the device) so real-time tests stay quick."""
    return ShotRequest(index=index, depth_mm=depth_mm, volume_ul=2.0, flow_ul_s=50.0,
                       speed_mm_s=20.0, dwell_s=0.0, fire_at=fire_at)


class Journal:
    """Records every snapshot the driver hands over, like the records layer will."""

    def __init__(self) -> None:
        self.entries: list[Shot] = []

    def __call__(self, shot: Shot) -> None:
        self.entries.append(shot)

    def latest(self) -> dict[tuple[int, int], Shot]:
        out: dict[tuple[int, int], Shot] = {}
        for s in self.entries:
            out[(s.session, s.index)] = s
        return out


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest.fixture
def connect(journal: Journal) -> Iterator[Callable[..., Injector]]:
    opened: list[Injector] = []

    def _connect(query: str = "seed=1", **kwargs: Any) -> Injector:
        kwargs.setdefault("journal", journal)
        inj = Injector.connect(f"sim://?{query}&realtime=1", **kwargs)
        opened.append(inj)
        return inj

    yield _connect
    for inj in opened:
        inj.close()


def ready(inj: Injector, session: int = 1) -> None:
    inj.home()
    inj.prime(volume_ul=10.0, flow_ul_s=100.0)
    inj.arm(session)
