"""The simulator's truth about executed shots, as JSON lines (`mesodrive sim --shot-log`).

Two lines per entry of the device's `executed_log`, appended and flushed at once: one with
`"event": "start"` when the shot starts moving, one with `"event": "end"` once the entry is
final, so a test can compare the host's records with what the device really did even if the
host (and with it an in-process simulator) was killed mid-shot: a start line without its end
line is a shot that moved and never finished. The firmware appends an `ExecutedShot` when a
shot starts moving and fills it in as the shot proceeds; it is final once `end_time` is set
(finished or aborted) or `power_lost` is true. `close()` writes what is left, final or not.
`read_shot_log` folds the lines back into one entry per shot.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from pathlib import Path
from typing import Any, TextIO

from mesosim.transports.device import ByteDevice, inner_device


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        # IntEnum / IntFlag keep their wire integer (comparable with host records).
        return int(value) if isinstance(value, int) else value.name
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def entry_final(entry: Any) -> bool:
    """Whether the firmware will not change this executed_log entry any more."""
    return getattr(entry, "end_time", 0.0) is not None or bool(getattr(entry, "power_lost", False))


class ShotLogWriter:
    """Call it with the device after each runner step; it appends the entries that became
    final since the last call."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        self._log_id: int | None = None
        self._seen = 0  # entries whose end line is written
        self._started = 0  # entries whose start line is written
        self._log: list[Any] = []
        self.written = 0

    def __call__(self, device: ByteDevice) -> None:
        log = getattr(inner_device(device), "executed_log", None)
        if log is None:
            return
        if id(log) != self._log_id or len(log) < self._seen:
            # A new list (e.g. the device rebuilt its state): start over on it.
            self._log_id, self._seen, self._started = id(log), 0, 0
        self._log = log
        self._write(final_only=True)

    def _write(self, *, final_only: bool) -> None:
        log = self._log
        before = (self._started, self._seen)
        while self._started < len(log):
            self._line(log[self._started], "start")
            self._started += 1
        while self._seen < len(log) and (not final_only or entry_final(log[self._seen])):
            self._line(log[self._seen], "end")
            self._seen += 1
            self.written += 1
        if (self._started, self._seen) != before:
            self._file.flush()

    def _line(self, entry: Any, event: str) -> None:
        self._file.write(json.dumps({**to_jsonable(entry), "event": event}, sort_keys=True) + "\n")

    def close(self) -> None:
        """Write every remaining entry (final or not) and close the file."""
        if not self._file.closed:
            self._write(final_only=False)
            self._file.close()


def read_shot_log(path: str | Path) -> list[dict[str, Any]]:
    """One dict per shot that started moving, in order: its end line if written, else its start
    line with `"finished": False` (the process died while it moved). A torn last line is
    ignored. Lines of the older one-line-per-shot format count as end lines."""
    shots: dict[tuple[int, int, int], dict[str, Any]] = {}
    p = Path(path)
    if not p.exists():
        return []
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        key = (e["boot_nonce"], e["session"], e["index"])
        if e.get("event", "end") == "end":
            shots[key] = {**e, "finished": e.get("end_time") is not None}
        else:
            shots.setdefault(key, {**e, "finished": False})
    return list(shots.values())
