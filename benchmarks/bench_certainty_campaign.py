#!/usr/bin/env python3
"""The shot-outcome campaign (issue 8): many random fault schedules, each checked against the
simulator's own executed-shot log, time-warped so thousands fit in minutes.

Each schedule draws: link faults in both directions (drops, duplicates, corruption, delay,
split), a power loss at a random shot, whether every `boot_event` is lost (the reboot the host
must notice by itself), and whether the device keeps a non-volatile journal. The host arms,
queues shots on the device clock, waits, resolves, re-arms after faults and reconnects after
link loss — as the run engine does — and at the end every shot must be final. Checked:

- double: a (session, index) the device executed twice, or one point (shot) executed twice;
- unknown: a shot the host could not make final;
- false-done: the host says DONE, the device never executed it;
- missed: the device executed it, the host says it never ran (REJECTED/CANCELLED/NOT_RECEIVED);
- uncertain: counted as delivered because nobody could tell, and how many of those never ran.

Prints one JSON line per worker batch and the summary line
`N schedules, 0 double, 0 unknown, 0 false-done, U uncertain (V of which never ran), 0 missed`.

Run: python benchmarks/bench_certainty_campaign.py --schedules 10000 --workers 2 --speed 20
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mesodrive.driver.errors import DriverError, ShotBlocked
from mesodrive.driver.injector import Injector
from mesodrive.driver.shots import ShotRequest, ShotState
from mesodrive.driver.timebase import Timebase
from mesodrive.driver.transports.serial import SerialTransport
from mesodrive.protocol.messages import DeviceState

NEVER_RAN = (ShotState.REJECTED, ShotState.CANCELLED, ShotState.NOT_RECEIVED)


def _url(seed: int, speed: float) -> str:
    r = random.Random(seed)

    def link() -> str:
        p = lambda: r.choice([0.0, 0.0, 0.005, 0.02, 0.05])
        return f"drop:{p()},dup:{p()},corrupt:{p()},delay:{p()},split:{r.choice([0.0, 0.3])}"

    q = [f"seed={seed}", "realtime=1", f"speed={speed}", f"link_h2d={link()}", f"link_d2h={link()}"]
    if r.random() < 0.7:
        q.append(f"faults=reboot@{r.randint(1, 6)}")
    if r.random() < 0.5:
        q.append("lose_boot_event=1")
    if r.random() < 0.3:
        q.append("nvm_journal=0")
    return "sim://?" + "&".join(q)


def _ready(inj: Injector) -> None:
    if inj.link_lost:
        inj.reconnect()
    state = inj.status().state
    if state in (DeviceState.FAULT, DeviceState.ESTOPPED):
        inj.clear_fault()
        inj.wait_state(DeviceState.IDLE, timeout=3)
        state = DeviceState.IDLE
    if state in (DeviceState.ARMED, DeviceState.FIRING):
        inj.disarm()
        inj.wait_state(DeviceState.READY, timeout=3)
        state = DeviceState.READY
    if state != DeviceState.READY:
        inj.home(timeout=5)
    inj.arm()


def run_schedule(seed: int, speed: float, shots: int = 6) -> Counter[str]:
    """One schedule; returns its counts (all zero but `uncertain*` when the promises hold)."""
    tb = Timebase(speed)
    out: Counter[str] = Counter(schedules=1)
    inj: Injector | None = None
    end = tb.now() + 40.0  # simulated seconds
    try:
        while inj is None and tb.now() < end:
            try:
                inj = Injector.connect(_url(seed, speed), timebase=tb)
            except DriverError:
                continue
        if inj is None:
            out["no_connect"] += 1
            return out
        index, sent, last_fire = 0, 0, 0.0
        while sent < shots and tb.now() < end:
            try:
                inj.resolve_uncertain()
                if inj.armed_session is None:
                    _ready(inj)
                    last_fire = 0.0
                ahead = [s for s in inj.shots() if not s.state.final]
                if len(ahead) >= 2:  # two in the device's queue at most, as a cadence would
                    inj.wait_shot(ahead[0].session, ahead[0].index, timeout=2)
                    continue
                fire = max(inj.device_now() + 0.25, last_fire + 0.35)
                inj.queue_shot(ShotRequest(index=index, depth_mm=1.5, volume_ul=2.0, flow_ul_s=50.0,
                                           speed_mm_s=20.0, fire_at=fire))
                last_fire = fire
                index += 1
                sent += 1
            except ShotBlocked:
                tb.sleep(0.05)
            except DriverError:
                try:
                    inj.reconnect()
                except DriverError:
                    tb.sleep(0.1)
        tb.sleep(1.0)  # let the last ones run
        for shot in inj.shots():
            if not shot.state.final:
                try:
                    inj.wait_shot(shot.session, shot.index, timeout=3)
                except DriverError:
                    pass
        host = {(s.session, s.index): s for s in inj.shots()}
        from mesosim.transports import inner_device

        transport = inj.transport
        assert isinstance(transport, SerialTransport)
        port = transport.port
        truth = port.sim_call(lambda d: [(e.session, e.index) for e in inner_device(d).executed_log])
    finally:
        if inj is not None:
            inj.close()
    if len(truth) != len(set(truth)):
        out["double"] += 1
    executed = set(truth)
    for key, shot in host.items():
        if not shot.state.final:
            out["unknown"] += 1
        elif shot.state is ShotState.DONE and key not in executed:
            out["false_done"] += 1
        elif shot.state in NEVER_RAN and key in executed:
            out["missed"] += 1
        elif shot.state is ShotState.UNCERTAIN:
            out["uncertain"] += 1
            if key not in executed:
                out["uncertain_never_ran"] += 1
                journal = "nvm_journal=0" not in _url(seed, speed)
                out[f"why:{'journal' if journal else 'no journal'}:{_why(shot.reason)}"] += 1
    for key in executed - set(host):
        out["foreign"] += 1  # executed, never sent by this host
    out["shots"] += len(host)
    return out


def _why(reason: str) -> str:
    """A reason without its numbers, to count alike ones together."""
    return "".join(c for c in reason if not c.isdigit()).split("(")[0].strip()[:70]


def _batch(args: tuple[list[int], float]) -> Counter[str]:
    seeds, speed = args
    total: Counter[str] = Counter()
    for seed in seeds:
        c = run_schedule(seed, speed)
        if c["double"] or c["unknown"] or c["false_done"] or c["missed"] or c["foreign"]:
            print(json.dumps({"violation": dict(c), "seed": seed, "url": _url(seed, speed)}),
                  flush=True)
        total += c
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--schedules", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--speed", type=float, default=20.0)
    ap.add_argument("--first-seed", type=int, default=1)
    args = ap.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.schedules))
    chunks = [seeds[i::args.workers * 20] for i in range(args.workers * 20)]
    t0 = time.monotonic()
    total: Counter[str] = Counter()
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        for part in pool.imap_unordered(_batch, [(c, args.speed) for c in chunks if c]):
            total += part
            print(json.dumps({"figure": "campaign_progress", "schedules": total["schedules"],
                              "wall_s": round(time.monotonic() - t0, 1)}), flush=True)
    summary = {k: total[k] for k in ("schedules", "shots", "double", "unknown", "false_done",
                                     "missed", "foreign", "uncertain", "uncertain_never_ran",
                                     "no_connect")}
    summary.update(figure="certainty_campaign", speed=args.speed, workers=args.workers,
                   wall_s=round(time.monotonic() - t0, 1), load=os.getloadavg()[0])
    print(json.dumps(summary), flush=True)
    why = {k[4:]: v for k, v in sorted(total.items(), key=lambda kv: -kv[1]) if k.startswith("why:")}
    print(json.dumps({"figure": "uncertain_never_ran_reasons", **why}), flush=True)
    print(f"{total['schedules']} schedules, {total['double']} double, {total['unknown']} unknown, "
          f"{total['false_done']} false-done, {total['uncertain']} uncertain "
          f"({total['uncertain_never_ran']} of which never ran), {total['missed']} missed")


if __name__ == "__main__":
    main()
