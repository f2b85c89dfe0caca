"""Property test: random but well-formed host behaviour never breaks the device's invariants.

A host sends a random mix of commands (valid and not), repeats shots, presses the pedal,
lifts the device off the skin, e-stops and pulls the plug, at random times and with scheduled
device faults. Whatever happens: no exception, at most one execution per (boot, session,
index), every executed shot was accepted first, and the device's bytes always decode.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mesosim import FAULT_KINDS, SimConfig, SimDevice

from mesodrive.protocol.endpoint import Endpoint
from mesodrive.protocol.messages import (
    Arm,
    CancelQueue,
    ClearFault,
    DeviceState,
    Disarm,
    Estop,
    GetShot,
    Heartbeat,
    Home,
    LoadSyringe,
    Prime,
    QueueShot,
    ShotAccepted,
    SoftTrigger,
    StatusQuery,
)

_actions = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "home",
                "prime",
                "arm",
                "disarm",
                "shot",
                "shot",
                "shot",
                "repeat",
                "trigger",
                "soft",
                "cancel",
                "clear",
                "load",
                "estop",
                "contact",
                "power",
                "status",
                "get",
                "wait",
            ]
        ),
        st.integers(0, 2**16 - 1),
        st.floats(0.0, 0.4),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 5),
    faults=st.lists(st.tuples(st.integers(1, 6), st.sampled_from(FAULT_KINDS)), max_size=3),
    actions=_actions,
)
def test_random_sessions_keep_the_invariants(
    seed: int, faults: list[tuple[int, str]], actions: list[tuple[str, int, float]]
) -> None:
    dev = SimDevice(SimConfig(seed=seed, shot_faults=tuple(faults), boot_time_s=0.05))
    host = Endpoint()
    t = 0.0
    sent: list[QueueShot] = []
    accepted: set[tuple[int, int, int]] = set()
    index = 0
    contact = True

    def send(msg: Any) -> None:
        dev.write(host.send(msg, check=False) + host.poll(t))

    def pump() -> None:
        for m in host.receive(dev.read(), t):
            if isinstance(m, ShotAccepted):
                accepted.add((dev.boot_nonce, m.session, m.index))
        out = host.poll(t)
        if out:
            dev.write(out)

    for action, r, dt in actions:
        if action == "home":
            send(Home())
        elif action == "prime":
            send(Prime(1000 + r % 30_000, 1000 + r))
        elif action == "arm":
            send(Arm(dev.boot_nonce if r % 5 else r, 1 + r % 3, r % 40))
        elif action == "disarm":
            send(Disarm())
        elif action == "shot":
            index += r % 3
            q = QueueShot(
                boot_nonce=dev.boot_nonce if r % 7 else r,
                session=1 + r % 3,
                index=index,
                trigger=r % 2 if r % 11 else 2,
                fire_tick=dev.device_ticks() + (r % 400) * 1000,
                depth_um=900 + r % 3300,
                volume_nl=400 + r % 30_000,
                flow_nl_s=900 + r % 60_000,
                speed_um_s=4000 + r % 100_000,
                dwell_ms=r % 200,
            )
            sent.append(q)
            send(q)
        elif action == "repeat" and sent:
            send(sent[r % len(sent)])
        elif action == "trigger":
            dev.press_trigger()
        elif action == "soft":
            send(SoftTrigger())
        elif action == "cancel":
            send(CancelQueue())
        elif action == "clear":
            send(ClearFault())
        elif action == "load":
            send(LoadSyringe(1 + r * 100))
        elif action == "estop":
            send(Estop(r))
        elif action == "contact":
            contact = not contact
            dev.set_contact(contact)
        elif action == "power":
            dev.power_cycle()
            host.reset()
        elif action == "status":
            send(StatusQuery(r))
        elif action == "get":
            send(GetShot(r, dev.boot_nonce if r % 4 else r, 1 + r % 3, r % 5))
        pump()
        # advance in heartbeat-sized steps so the dead-man only trips on long waits
        end = t + (dt * 3 if action == "wait" else dt)
        while t < end:
            t = min(end, t + 0.08)
            dev.advance_to(t)
            pump()
            send(Heartbeat())
            pump()

    dev.advance_to(t + 5.0)
    pump()
    keys = Counter((e.boot_nonce, e.session, e.index) for e in dev.executed_log)
    assert all(n == 1 for n in keys.values()), keys
    assert set(keys) <= accepted
    starts = [e.start_time for e in dev.executed_log]
    assert starts == sorted(starts)
    for e in dev.executed_log:
        assert e.power_lost or e.end_time is not None
        assert dev.config.depth_min_um <= e.depth_um <= dev.config.depth_max_um
    assert host.deframer.error_count == 0
    assert dev.state in DeviceState
