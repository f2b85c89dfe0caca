"""SimConfig: documented non-zero hidden errors, validation, and sim:// query parsing."""

from __future__ import annotations

import pytest
from mesosim import FAULT_KINDS, LinkFaults, SimConfig
from mesosim.device_faults import FaultSchedule, parse_shot_faults


def test_hidden_errors_are_on_by_default() -> None:
    c = SimConfig()
    assert c.clock_offset_ticks != 0 and c.clock_drift_ppm != 0
    assert c.depth_offset_um != 0 and c.depth_scale != 1
    assert c.volume_gain != 1 and c.volume_offset_nl != 0
    assert c.syringe_nl == 10_000_000
    assert (c.depth_min_um, c.depth_max_um) == (800, 4200)  # travel beyond the 1–4 mm
    assert not c.host_to_device.any and not c.device_to_host.any


def test_full_query() -> None:
    c = SimConfig.from_query(
        "seed=3&realtime=1&faults=occlusion@40,reboot@75,air@12&drift_ppm=100"
        "&link=drop:0.01,dup:0.02,corrupt:0.03,delay:0.04,split:0.2&link_d2h=drop:0.5"
    )
    assert c.seed == 3 and c.realtime is True and c.clock_drift_ppm == 100.0
    assert c.shot_faults == ((40, "occlusion"), (75, "reboot"), (12, "air"))
    assert c.host_to_device == LinkFaults(0.01, 0.02, 0.03, 0.04, 0.2)
    assert c.device_to_host == LinkFaults(0.5, 0.02, 0.03, 0.04, 0.2)


def test_query_details() -> None:
    assert SimConfig.from_query("") == SimConfig()
    assert SimConfig.from_query("?seed=9").seed == 9
    c = SimConfig.from_query(
        "link_h2d=split:1&serial=BENCH-2&depth_offset_um=-30.5&depth_scale=1.01"
        "&volume_gain=0.98&volume_offset_nl=40&syringe_nl=5000000&offset_ticks=0x10&realtime=off"
    )
    assert c.host_to_device == LinkFaults(split=1.0) and c.device_to_host == LinkFaults()
    assert c.serial == "BENCH-2" and c.depth_offset_um == -30.5 and c.depth_scale == 1.01
    assert (c.volume_gain, c.volume_offset_nl, c.syringe_nl) == (0.98, 40.0, 5_000_000)
    assert c.clock_offset_ticks == 16 and c.realtime is False
    assert SimConfig.from_query("faults=").shot_faults == ()
    assert SimConfig.from_query("faults=Contact_Lost@2").shot_faults == ((2, "contact_lost"),)


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("colour=blue", ["colour", "blue"]),
        ("seed=abc", ["seed", "abc"]),
        ("realtime=maybe", ["realtime", "maybe"]),
        ("drift_ppm=fast", ["drift_ppm", "fast"]),
        ("drift_ppm=nan", ["drift_ppm", "nan"]),
        ("faults=meteor@3", ["faults", "meteor"]),
        ("faults=air@0", ["faults", "0"]),
        ("faults=air", ["faults", "air"]),
        ("faults=air@x", ["faults", "x"]),
        ("link=drop:2", ["link", "drop:2"]),
        ("link=lose:0.1", ["link", "lose:0.1"]),
        ("link_d2h=drop:x", ["link_d2h", "drop:x"]),
        ("seed=1&seed=2", ["seed"]),
        ("host_to_device=x", ["host_to_device"]),
        ("depth_min_um=400", ["400"]),
        ("syringe_nl=0", ["syringe_nl"]),
    ],
)
def test_bad_queries_name_key_and_value(query: str, names: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        SimConfig.from_query(query)
    for n in names:
        assert n in str(info.value)


def test_to_query_round_trips() -> None:
    c = SimConfig(
        seed=4,
        realtime=True,
        shot_faults=((3, "air"), (9, "stall")),
        clock_drift_ppm=-12.5,
        host_to_device=LinkFaults(drop=0.1),
        device_to_host=LinkFaults(duplicate=0.2, split=0.5),
    )
    assert SimConfig.from_query(c.to_query()) == c
    assert SimConfig().to_query() == ""


def test_validation() -> None:
    with pytest.raises(ValueError):
        SimConfig(depth_max_um=4600)  # beyond the protocol's 500–4500 µm
    with pytest.raises(ValueError):
        SimConfig(flow_min_nl_s=10)
    with pytest.raises(ValueError):
        SimConfig(shot_faults=((1, "gremlin"),))
    with pytest.raises(ValueError):
        SimConfig(serial="X" * 17)
    with pytest.raises(ValueError):
        LinkFaults(drop=-0.1)
    assert SimConfig().replace(queue_len=4).queue_len == 4
    with pytest.raises(ValueError):
        SimConfig().replace(queue_len=0)  # a validated copy
    with pytest.raises(ValueError):
        SimConfig(colour="blue")  # type: ignore[call-arg]
    assert SimConfig(queue_len="4").queue_len == 4  # type: ignore[arg-type]
    assert SimConfig(clock_drift_ppm=10).model_copy(update={"seed": 2}).seed == 2


def test_fault_schedule() -> None:
    faults = parse_shot_faults("air@3, stall@3 ,reboot@10")
    sched = FaultSchedule(faults)
    assert sched.kinds_for(3) == ["air", "stall"] and sched.kinds_for(10) == ["reboot"]
    assert sched.kinds_for(4) == []
    assert set(FAULT_KINDS) == {"occlusion", "air", "empty", "stall", "contact_lost", "reboot"}
