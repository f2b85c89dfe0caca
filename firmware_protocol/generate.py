#!/usr/bin/env python3
"""Generate the Python message module and the C header from messages.toml.

    python firmware_protocol/generate.py          # write the generated files
    python firmware_protocol/generate.py --check  # exit 1 if any generated file is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import catalogue
import gen_c
import gen_python

ROOT = Path(__file__).resolve().parent.parent
PY_OUT = ROOT / "src" / "mesodrive" / "protocol" / "messages.py"
C_OUT = ROOT / "firmware_protocol" / "c" / "md_messages.h"


def outputs() -> dict[Path, str]:
    cat = catalogue.load()
    return {PY_OUT: gen_python.generate(cat), C_OUT: gen_c.generate(cat)}


def stale() -> list[Path]:
    return [p for p, text in outputs().items() if not p.exists() or p.read_text() != text]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--check", action="store_true", help="only report stale files")
    args = ap.parse_args()
    if args.check:
        bad = stale()
        for p in bad:
            print(f"stale: {p.relative_to(ROOT)}", file=sys.stderr)
        return 1 if bad else 0
    for path, text in outputs().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
