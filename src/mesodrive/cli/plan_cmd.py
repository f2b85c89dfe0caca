"""`mesodrive plan` (placeholder: being written)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("plan", help="(not available yet)")
    p.set_defaults(func=lambda args: 1)
