"""Refill: tell the device a new syringe is loaded (its remaining volume) and record the
operator action — the records must show where in the session product was added."""

from __future__ import annotations

from mesodrive.driver.injector import Injector
from mesodrive.records import RecordStore


def refill(inj: Injector, store: RecordStore, session: int, volume_ul: float) -> None:
    inj.load_syringe(volume_ul)
    store.record_action(session, "refill", f"syringe loaded with {volume_ul} µL")
