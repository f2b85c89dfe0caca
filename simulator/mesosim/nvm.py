"""The device's non-volatile shot journal (PROTOCOL.md §12.5): what survives a power loss.

Real firmware keeps this in FRAM or flash; the simulator keeps it in memory (it survives
`power_cycle`, as NVM survives a power loss) and, given a path (`sim://?nvm=PATH`), in a JSON
lines file, so that a simulator started again after the host process was killed — the
built-in simulator dies with the host — still knows what its previous boots did.

What is kept, and why it is enough to answer `get_shot` for an earlier boot exactly:
- every boot nonce (`boot`), so the device knows which boots its journal covers;
- a `start` entry written **before the needle moves** and an `end` entry with the result.
A shot of a covered boot with no `start` entry never moved; one with `start` and no `end` was
interrupted (delivered volume unknown); one with both is done. Nothing else is needed: a
reboot empties the queue, so whatever had not started by then never will.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

BOOTS_KEPT = 16  # covered boots; older ones answer UNKNOWN
SHOTS_KEPT = 8192  # start/end records kept over all covered boots


@dataclass
class NvmShot:
    start_tick: int
    result: dict[str, int] | None = None  # shot_result fields once the shot ended


class Nvm:
    """The journal; `path=None` keeps it in memory only."""

    def __init__(self, path: str | Path | None = None, *, enabled: bool = True) -> None:
        self.enabled = enabled  # False: a device without a journal (nothing kept, nothing known)
        self.path = Path(path) if path and enabled else None
        self.boots: list[int] = []
        self.shots: OrderedDict[tuple[int, int, int], NvmShot] = OrderedDict()
        self._file: TextIO | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists():
                self._load(self.path)
            self._compact(self.path)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    # ----- writes (each one durable before the firmware goes on) ------------------------------
    def boot(self, nonce: int) -> None:
        if not self.enabled:
            return
        self.boots.append(nonce)
        del self.boots[:-BOOTS_KEPT]
        self._append({"k": "boot", "boot": nonce})

    def start(self, boot: int, session: int, index: int, start_tick: int) -> None:
        if not self.enabled:
            return
        self._put((boot, session, index), NvmShot(start_tick))
        self._append({"k": "start", "boot": boot, "session": session, "index": index,
                      "start_tick": start_tick})

    def end(self, boot: int, session: int, index: int, result: dict[str, int]) -> None:
        shot = self.shots.get((boot, session, index))
        if shot is not None:
            shot.result = dict(result)
        self._append({"k": "end", "boot": boot, "session": session, "index": index,
                      "result": result})

    # ----- reads ------------------------------------------------------------------------------
    def covers(self, boot: int) -> bool:
        return boot in self.boots

    def shot(self, boot: int, session: int, index: int) -> NvmShot | None:
        return self.shots.get((boot, session, index))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    # ----- internals --------------------------------------------------------------------------
    def _put(self, key: tuple[int, int, int], shot: NvmShot) -> None:
        self.shots[key] = shot
        while len(self.shots) > SHOTS_KEPT:
            (old_boot, _, _), _ = self.shots.popitem(last=False)
            # Evicting a boot's records means the journal no longer covers that boot.
            if old_boot in self.boots:
                self.boots.remove(old_boot)

    def _append(self, entry: dict[str, Any]) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps(entry, sort_keys=True) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def _compact(self, path: Path) -> None:
        """Rewrite the file with what is kept (it would otherwise grow with every shot ever)."""
        lines = [{"k": "boot", "boot": b} for b in self.boots]
        for (boot, session, index), shot in self.shots.items():
            lines.append({"k": "start", "boot": boot, "session": session, "index": index,
                          "start_tick": shot.start_tick})
            if shot.result is not None:
                lines.append({"k": "end", "boot": boot, "session": session, "index": index,
                              "result": shot.result})
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(e, sort_keys=True) + "\n" for e in lines)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def _load(self, path: Path) -> None:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    e = json.loads(line)
                    kind = e["k"]
                    if kind == "boot":
                        self.boots.append(int(e["boot"]))
                        del self.boots[:-BOOTS_KEPT]
                    elif kind == "start":
                        self._put((int(e["boot"]), int(e["session"]), int(e["index"])),
                                  NvmShot(int(e["start_tick"])))
                    elif kind == "end":
                        shot = self.shots.get((int(e["boot"]), int(e["session"]), int(e["index"])))
                        if shot is not None:
                            shot.result = {str(k): int(v) for k, v in e["result"].items()}
                except (ValueError, KeyError, TypeError, AttributeError):
                    # A torn last line (power lost mid-write): everything before it stands.
                    continue
