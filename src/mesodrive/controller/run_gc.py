"""Garbage collection while a run is armed: no full collection until the run ends.

A full (generation-2) collection stops every thread of the process while it walks every
long-lived object; the heartbeat thread included. Measured with a 10,000-point run: after
~4,500 points the objects the run keeps (its rows, shots, totals) pass the collector's
quarter-of-the-heap trigger and a full collection takes ~17 ms. At real time that is a small
bite of the device's 100 ms "no start after silence" margin; time-warped at 20× it is 340 ms
of device time, and the device rightly goes safe with LINK_LOST (issue 13). A full collection
at shot boundaries does not help: at 20× there is no gap between heartbeats that long.

So for the run: everything loaded so far is collected once and frozen (moved out of the
collector's sight), and generation-2 collections are held off; the young generations keep
being collected as usual (each well under a millisecond, they never walk the long-lived
heap). The cost is that a reference cycle that outlives two young collections is freed at
the end of the run instead of during it: the run's own bookkeeping, bounded by its size.
On exit the threshold is restored and the frozen objects are released: the collector catches
up at its own next turn, after the run.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# A generation-2 threshold no run reaches: gen 2's count grows by one per gen-1 collection.
HELD = 1 << 30

_lock = threading.Lock()
_holders = 0
_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def no_full_collections() -> Iterator[None]:
    """Hold off generation-2 collections for the body (reentrant, across threads)."""
    global _holders, _saved
    with _lock:
        _holders += 1
        if _holders == 1:
            _saved = gc.get_threshold()
            gc.collect()
            gc.freeze()
            gc.set_threshold(_saved[0], _saved[1], HELD)
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                gc.set_threshold(*_saved)
                gc.unfreeze()


def full_collections_held() -> bool:
    """True while some run holds off full collections (for tests and diagnostics)."""
    return _holders > 0
