"""Re-prime: push a little product through the line with the needle retracted, so air from a
new syringe (or the bubble that faulted the shot) is purged before the next injection."""

from __future__ import annotations

from mesodrive.driver.injector import Injector

PRIME_UL = 10.0
PRIME_FLOW_UL_S = 50.0


def reprime(inj: Injector) -> None:
    inj.prime(volume_ul=PRIME_UL, flow_ul_s=PRIME_FLOW_UL_S)
