#!/usr/bin/env python3
"""Plan geometry at the sizes the validator allows, one JSON line per figure.

A grid of up to 10,000 points on areas up to 1,000 vertices, a polygon's self-intersection
check, and zone containment of 10,000 scattered points: the best of N runs of each (the work is
deterministic, so the minimum is the machine's cost without interference), with the load
average. Shapes and grids are plain Python since the start-up work of issue 13; this shows what
that costs at scale (numpy, before: 1000-vertex grid 0.14 s, its check 0.08 s).

Run: python benchmarks/bench_plan_geometry.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from collections.abc import Callable

from mesodrive.plan import Ellipse, Polygon, Rectangle, generate_grid


def _circle(n: int, r: float) -> Polygon:
    return Polygon(kind="polygon", vertices_mm=tuple(
        (r * math.cos(2 * math.pi * k / n), r * math.sin(2 * math.pi * k / n)) for k in range(n)))


FACE = Polygon(kind="polygon", vertices_mm=((-45, -85), (45, -85), (65, -40), (65, 40), (50, 80),
                                            (-50, 80), (-65, 40), (-65, -40)))
SQUARE = Rectangle(kind="rectangle", origin_mm=(-100, -100), size_mm=(200, 200))
OVAL = Ellipse(kind="ellipse", center_mm=(0, 0), radii_mm=(110, 100))
CIRCLE = _circle(1000, 100)


def _best(fn: Callable[[], int], runs: int) -> tuple[float, int]:
    best, result = math.inf, 0
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    rng = random.Random(13)
    scattered = [(rng.uniform(-110, 110), rng.uniform(-110, 110)) for _ in range(10_000)]
    figures: dict[str, Callable[[], int]] = {
        "grid_face_8_vertices": lambda: len(generate_grid(FACE, "hex", 2.1)),
        "grid_square": lambda: len(generate_grid(SQUARE, "square", 2.05)),
        "grid_ellipse": lambda: len(generate_grid(OVAL, "hex", 2.4)),
        "grid_circle_1000_vertices": lambda: len(generate_grid(CIRCLE, "square", 2.0)),
        "problems_circle_1000_vertices": lambda: len(CIRCLE.problems()),
        "contains_10k_points_circle_1000_vertices": lambda: sum(CIRCLE.contains(scattered)),
    }
    for name, fn in figures.items():
        seconds, result = _best(fn, runs)
        print(json.dumps({"figure": name, "best_s": round(seconds, 4), "result": result,
                          "runs": runs, "load": round(os.getloadavg()[0], 2)}), flush=True)


if __name__ == "__main__":
    main()
