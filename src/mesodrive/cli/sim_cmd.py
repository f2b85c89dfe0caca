"""`mesodrive sim`: serve the simulated injector (placeholder until the simulator lands)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("sim", help="serve the simulated injector")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print("the simulator is not available yet")
    return 1
