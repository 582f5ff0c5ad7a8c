"""How long ``harness check-spec`` takes cold on each bundled spec, and how draws spread.

    python benchmarks/bench_check_spec.py            # every spec in specs/, three runs each
    python benchmarks/bench_check_spec.py --runs 1 specs/calculus_sheet.yaml

Each run is a fresh process with ``--no-cache`` (nothing remembered: the inputs are drawn and
every reference computed). The figure is the median wall-clock time; the load average before and
after is printed, since a shared machine slows every run. Then, for one scalar in [-5, 5], how
many of 100 draws fall within 1e-6 of 0, over ten seeds, with the harness's strategy and with
plain Hypothesis floats (what the harness drew before issue 10).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the harness of this checkout, installed or not


def time_check_spec(spec: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "harness", "check-spec", str(spec), "--no-cache"],
                              cwd=ROOT, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            print(done.stdout, done.stderr, file=sys.stderr)
            raise SystemExit(f"check-spec failed on {spec}")
    return times


SCALAR_SPEC = """\
title: One scalar
variables:
  x: {domain: [-5, 5]}
model:
  y: x
questions:
  - id: "1"
    title: d y / d x
    module: q1
    items:
      - {function: dy_dx, points: 1, of: y, wrt: x}
"""


def _draw(strategy, seed_value: int, count: int) -> list:
    """The first ``count`` examples a seeded, database-free Hypothesis run draws from ``strategy``."""
    from hypothesis import HealthCheck, Phase, given, seed, settings

    drawn = []

    @seed(seed_value)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def gather(example) -> None:
        drawn.append(example)

    gather()
    return drawn[:count]


def near_zero() -> tuple[list[int], list[int]]:
    """Draws within 1e-6 of 0, of 100 per seed: plain Hypothesis floats, then the harness's strategy."""
    import numpy as np
    from hypothesis import strategies as st

    import harness

    assignment = harness.load_spec_text(SCALAR_SPEC, "one_scalar.yaml")
    plain = st.floats(-5.0, 5.0, allow_nan=False, allow_infinity=False, allow_subnormal=False)

    def count(strategy, value) -> list[int]:
        found = []
        for seed_value in range(10):
            values = np.array([value(example) for example in _draw(strategy, 1000 + seed_value, 100)])
            found.append(int(np.sum(np.abs(values) < 1e-6)))
        return found

    before = count(plain, float)
    now = count(harness.input_strategy(assignment), lambda example: float(example.point["x"]))
    return before, now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    specs = arguments.specs or sorted((ROOT / "specs").glob("*.yaml"))
    print(f"load average before: {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs")
    for spec in specs:
        times = time_check_spec(spec, arguments.runs)
        print(f"{spec.name}: median {statistics.median(times):.1f} s  (runs: {', '.join(f'{t:.1f}' for t in times)})")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    before, after = near_zero()
    print(f"draws within 1e-6 of 0, of 100, ten seeds: Hypothesis floats {before} (mean {sum(before) / 10:.1f}); "
          f"the harness {after} (mean {sum(after) / 10:.1f})")


if __name__ == "__main__":
    main()
