#!/usr/bin/env python3
"""Start-up time of the `mesodrive` command, one JSON line per figure.

Each command is run N times as a fresh process (`python -m mesodrive ...`), as a user runs it;
the figure is the wall time from spawn to exit: median, p90, min and max, with the load
average before and after (on a shared machine the load decides the spread). `python -c pass`
is the floor: the interpreter alone. Issue 13's target: `--help` and `plan check` under 0.25 s.

`plan_check_million_rows` checks a plan whose CSV point list has a million rows (6 MB): it is
refused at the point cap while reading (exit 1), so it should cost little more than `plan check`.

Run: python benchmarks/bench_startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "python_floor": ["-c", "pass"],
    "help": ["-m", "mesodrive", "--help"],
    "plan_check": ["-m", "mesodrive", "plan", "check", "examples/face.toml"],
    "records_help": ["-m", "mesodrive", "records", "--help"],
}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _million_row_plan(folder: Path) -> Path:
    shutil.copy(ROOT / "examples" / "products.toml", folder / "products.toml")
    face = (ROOT / "examples" / "face.toml").read_text()
    header, rest = face.split('pattern = "hex"', 1)
    defaults = rest.split("[defaults]", 1)[1].split("[[zones]]", 1)[0]
    (folder / "plan.toml").write_text(f'{header}points_csv = "million.csv"\nmode = "auto"\n'
                                      f"cadence_hz = 1.2\n\n[defaults]{defaults}")
    with open(folder / "million.csv", "w") as f:
        f.write("x_mm,y_mm\n")
        f.writelines(f"{k % 100},{k // 100 % 100}\n" for k in range(1_000_000))
    return folder / "plan.toml"


# As a user's machine runs it: the warm-up run writes the bytecode cache (.pyc) that every later
# start reads, even where the environment says not to write one (some sandboxes do).
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _run_once(args: list[str], expect: int = 0) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False, env=_ENV)
    wall = time.perf_counter() - start
    if done.returncode != expect:
        raise SystemExit(f"{args} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="runs of each command")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        million = ["-m", "mesodrive", "plan", "check", str(_million_row_plan(Path(tmp)))]
        for name, args in COMMANDS.items():
            _figure(name, args, opts.runs)
        _figure("plan_check_million_rows", million, opts.runs, expect=1)


def _figure(name: str, args: list[str], runs: int, expect: int = 0) -> None:
    _run_once(args, expect)  # warm the file and bytecode caches once, not counted
    load_before = os.getloadavg()[0]
    walls = [_run_once(args, expect) for _ in range(runs)]
    print(json.dumps({
        "figure": f"startup_{name}", "unit": "s", "command": " ".join(args[1:]), "n": len(walls),
        "median": round(statistics.median(walls), 3), "p90": round(_pct(walls, 0.9), 3),
        "min": round(min(walls), 3), "max": round(max(walls), 3),
        "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count()}), flush=True)


if __name__ == "__main__":
    main()
