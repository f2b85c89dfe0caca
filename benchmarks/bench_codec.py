#!/usr/bin/env python3
"""Codec throughput, one JSON line per figure.

- encode+decode round trips of a queue_shot frame through our codec (frames/s);
- the same for pymavlink's COMMAND_LONG (pack + decode, MAVLink 2) in the same run, and the ratio;
- streaming deframe throughput (MB/s) for a long stream of mixed frames in 64-byte chunks.

Run: python benchmarks/bench_codec.py  (pymavlink comes with `pip install -e '.[bench]'`)
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable

from mesodrive.protocol import Deframer, decode_frame, decode_message
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


def ours(check: bool) -> float:
    """`check=True` is what the driver does: every field range-checked before encoding.
    pymavlink checks no ranges, so the unchecked figure is the like-for-like one."""

    def round_trip() -> None:
        assert decode_message(decode_frame(encode_message(SHOT, 41, 17, check=check))) is not None

    return rate(round_trip)


def mavlink() -> float | None:
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

    return rate(round_trip)


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


def main() -> None:
    env = {"python": platform.python_version(), "cpus": os.cpu_count()}
    ours_rate = ours(check=True)
    print(json.dumps({"figure": "codec_round_trip", "codec": "mesodrive", "message": "queue_shot",
                      "range_checked": True, "frames_per_s": round(ours_rate), **env}))
    unchecked = ours(check=False)
    print(json.dumps({"figure": "codec_round_trip", "codec": "mesodrive", "message": "queue_shot",
                      "range_checked": False, "frames_per_s": round(unchecked), **env}))
    mav_rate = mavlink()
    if mav_rate is None:
        print(json.dumps({"figure": "codec_round_trip", "codec": "pymavlink", "skipped": "pymavlink not installed"}))
    else:
        print(json.dumps({"figure": "codec_round_trip", "codec": "pymavlink", "message": "COMMAND_LONG",
                          "frames_per_s": round(mav_rate), **env}))
        print(json.dumps({"figure": "codec_speedup_vs_pymavlink", "range_checked": True,
                          "ratio": round(ours_rate / mav_rate, 2), "target": 5.0}))
        print(json.dumps({"figure": "codec_speedup_vs_pymavlink", "range_checked": False,
                          "ratio": round(unchecked / mav_rate, 2), "target": 5.0}))
    print(json.dumps({"figure": "deframe_throughput", "chunk_bytes": 64,
                      "mb_per_s": round(deframe_mb_s(), 2), **env}))


if __name__ == "__main__":
    main()
