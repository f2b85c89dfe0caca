#!/usr/bin/env python3
"""Codec throughput, one JSON line per figure.

- encode+decode round trips of a queue_shot frame through our codec (frames/s), with and without
  range checks, through the fused path (`encode_message` + `decode_wire`) and the two-step one
  (`encode_message` + `decode_frame` + `decode_message`, what the deframer/link path does);
- the same for pymavlink's COMMAND_LONG (pack + decode, MAVLink 2) in the same run, and the ratios;
- streaming deframe throughput (MB/s) for a long stream of mixed frames in 64-byte chunks.

The machine may be shared: `--rounds N` measures every figure N times, interleaved (pymavlink and
ours back to back in each round, so a ratio compares the same load), and prints the best, median
and worst ratio over the rounds.

Run: python benchmarks/bench_codec.py [--rounds 5]  (pymavlink: `pip install -e '.[bench]'`)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable

from mesodrive.protocol import Deframer, decode_frame, decode_message, decode_wire
from mesodrive.protocol.codec import encode_message
from mesodrive.protocol.messages import QueueShot, ShotResult, StatusQuery

SHOT = QueueShot(
    boot_nonce=0x1234ABCD, session=7, index=123, trigger=0, fire_tick=123_456_789_000,
    depth_um=2500, volume_nl=20_000, flow_nl_s=10_000, speed_um_s=20_000, dwell_ms=50,
)


def rate(fn: Callable[[], object], seconds: float = 1.0) -> float:
    """Calls per second, best of 5 timed batches (the least disturbed by the rest of the machine)."""
    n = 1000
    while True:  # size a batch to ~seconds/5
        t = time.perf_counter()
        for _ in range(n):
            fn()
        if (dt := time.perf_counter() - t) > seconds / 5:
            break
        n *= 2
    best = dt
    for _ in range(4):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - t)
    return n / best


def ours(check: bool, fused: bool = True) -> float:
    """`check=True` is what the driver does: every field range-checked before encoding.
    pymavlink checks no ranges, so the unchecked figure is the like-for-like one."""

    def round_trip_fused() -> None:
        assert decode_wire(encode_message(SHOT, 41, 17, check=check))[3] is not None

    def round_trip_two_step() -> None:
        assert decode_message(decode_frame(encode_message(SHOT, 41, 17, check=check))) is not None

    return rate(round_trip_fused if fused else round_trip_two_step)


def mavlink() -> Callable[[], object] | None:
    try:
        from pymavlink.dialects.v20 import common as mavlink2
    except ImportError:
        return None
    mav = mavlink2.MAVLink(None, srcSystem=1, srcComponent=1)
    # Built once, like our SHOT: both sides time pack/encode + parse/decode only.
    msg = mavlink2.MAVLink_command_long_message(1, 1, 400, 0, 1.0, 2500.0, 20.0, 10.0, 20.0, 0.05, 7.0)

    def round_trip() -> None:
        buf = msg.pack(mav)
        assert mav.decode(bytearray(buf)) is not None

    return round_trip


def deframe_mb_s() -> float:
    frames = [
        encode_message(SHOT, 1, 2),
        encode_message(StatusQuery(token=9)),
        encode_message(ShotResult(7, 123, 10**9, 10**9 + 400_000, 2480, 19_950, 31_000, 0), 3, 4),
    ]
    stream = b"".join(frames) * 3000
    chunks = [stream[i : i + 64] for i in range(0, len(stream), 64)]
    best = float("inf")
    for _ in range(5):
        d = Deframer()
        t = time.perf_counter()
        for c in chunks:
            d.feed(c)
        best = min(best, time.perf_counter() - t)
        assert d.frames == 9000 and d.error_count == 0
    return len(stream) / best / 1e6


# (label, range_checked, fused)
VARIANTS = [("fused", True, True), ("fused", False, True),
            ("two_step", True, False), ("two_step", False, False)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=1, help="measure everything N times, interleaved")
    args = ap.parse_args()
    env = {"python": platform.python_version(), "cpus": os.cpu_count(),
           "loadavg": [round(x, 2) for x in os.getloadavg()]}
    mav = mavlink()
    if mav is None:
        print(json.dumps({"figure": "codec_round_trip", "codec": "pymavlink",
                          "skipped": "pymavlink not installed"}))
    ratios: dict[tuple[str, bool], list[float]] = {(p, c): [] for p, c, _ in VARIANTS}
    for rnd in range(args.rounds):
        mav_rate = rate(mav) if mav is not None else None
        for path, check, fused in VARIANTS:
            r = ours(check, fused)
            print(json.dumps({"figure": "codec_round_trip", "codec": "mesodrive", "round": rnd,
                              "message": "queue_shot", "path": path, "range_checked": check,
                              "frames_per_s": round(r), **env}))
            if mav_rate is not None:
                ratios[(path, check)].append(r / mav_rate)
        if mav_rate is not None:
            print(json.dumps({"figure": "codec_round_trip", "codec": "pymavlink", "round": rnd,
                              "message": "COMMAND_LONG", "frames_per_s": round(mav_rate), **env}))
            for path, check, _ in VARIANTS:
                print(json.dumps({"figure": "codec_speedup_vs_pymavlink", "round": rnd,
                                  "path": path, "range_checked": check,
                                  "ratio": round(ratios[(path, check)][-1], 2), "target": 5.0}))
    if mav is not None and args.rounds > 1:
        for path, check, _ in VARIANTS:
            rs = ratios[(path, check)]
            print(json.dumps({"figure": "codec_speedup_vs_pymavlink_summary", "path": path,
                              "range_checked": check, "rounds": len(rs),
                              "best": round(max(rs), 2), "median": round(statistics.median(rs), 2),
                              "worst": round(min(rs), 2), "target": 5.0,
                              "loadavg_end": [round(x, 2) for x in os.getloadavg()]}))
    print(json.dumps({"figure": "deframe_throughput", "chunk_bytes": 64,
                      "mb_per_s": round(deframe_mb_s(), 2), **env}))


if __name__ == "__main__":
    main()
