"""Clock sync: regression recovers offset and drift; outliers and backwards clocks rejected."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesodrive.driver.clock_sync import ClockSync

HZ = 1_000_000


def _feed(sync: ClockSync, offset: float, ppm: float, rng: random.Random, n: int = 60,
          spike_every: int = 0) -> None:
    t = 10.0
    for i in range(n):
        t += 0.05
        out = rng.uniform(0.0002, 0.0006)  # host → device leg
        back = rng.uniform(0.0002, 0.0006)
        if spike_every and i % spike_every == 3:
            back += 0.02  # a delayed reply: asymmetric, must be rejected
        device_at = t + out
        ticks = int(offset + device_at * HZ * (1 + ppm * 1e-6))
        sync.add_sample(t, t + out + back, ticks)


@given(offset=st.floats(0, 1e12), ppm=st.floats(-150, 150), seed=st.integers(0, 1000))
def test_recovers_offset_and_drift_within_the_error_bound(offset: float, ppm: float, seed: int) -> None:
    # ±0.2 ms of asymmetric jitter over a 10 s baseline of 200 samples: drift σ ≈ 3 ppm.
    sync = ClockSync(HZ, window=256)
    rng = random.Random(seed)
    _feed(sync, offset, ppm, rng, n=200, spike_every=7)
    est = sync.estimate
    assert est is not None
    assert sync.rejected > 0
    assert abs(sync.drift_ppm - ppm) < 15
    t = 15.0
    true = offset + t * HZ * (1 + ppm * 1e-6)
    assert abs(est.to_ticks(t) - true) <= max(est.error_us, 1.0) + 1
    assert est.error_us < 1000
    assert abs(est.to_host(est.to_ticks(t)) - t) < 1e-5


def test_a_single_sample_gives_nominal_rate() -> None:
    sync = ClockSync(HZ)
    sync.add_sample(1.0, 1.001, 5_000_000)
    est = sync.estimate
    assert est is not None and est.rate == HZ and est.samples == 1


def test_backwards_device_clock_is_an_error() -> None:
    sync = ClockSync(HZ)
    sync.add_sample(1.0, 1.001, 5_000_000)
    with pytest.raises(ValueError, match="backwards"):
        sync.add_sample(1.1, 1.101, 4_000_000)


def test_reply_before_send_is_an_error() -> None:
    with pytest.raises(ValueError, match="before sent"):
        ClockSync(HZ).add_sample(2.0, 1.0, 1)
