"""Benchmark: a student's repository, graded by `harness grade` and by `pytest` (the plugin).

Run from the repository root:

    python benchmarks/bench_student_repo.py

It lays out a student repository in a temporary folder (the bundled `sample_student` files, the
scalar Question 2 spec, and a `[tool.harness]` table pointing at them), with a reference cache of
its own, and times, each as a fresh process: `harness grade` cold (empty cache), then warm, then
`pytest` (the first run finds the cache `harness grade` left; later runs are what a student
re-running the tests pays); warm figures are the median of three runs. The figure to watch: a
repeated pytest run against the warm `harness grade`, which should be no more than about 2x
(pytest's own start-up and collection). With PYTHONDONTWRITEBYTECODE set, Python caches no
bytecode and pytest rewrites the assertions of every plugin module again on every run (about 1 s
here); the script says so when it is set, and `--bytecode` runs with it unset, as on most machines.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "q2_neural_networks.yaml"
STUDENT = ROOT / "submissions" / "sample_student"


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode not in (0, 1):  # pytest exits 1 when a test fails, as the seed's 2.3 does
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bytecode", action="store_true", help="run with PYTHONDONTWRITEBYTECODE unset")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-student-") as temporary:
        repo = Path(temporary) / "repo"
        shutil.copytree(STUDENT, repo)
        (repo / "specs").mkdir()
        shutil.copy(SPEC, repo / "specs")
        (repo / "pyproject.toml").write_text(
            f'[tool.harness]\nspecs = ["specs/{SPEC.name}"]\nsubmission = "."\nout = "reports"\n'
        )
        env = {**os.environ, "HARNESS_CACHE_DIR": str(Path(temporary) / "cache")}
        if args.bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
        grade = [sys.executable, "-m", "harness", "grade", "--jobs", "1", "-q"]
        pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]  # what a student types
        figures = {
            "harness grade, cold cache": timed(grade, repo, env),
            "harness grade, warm cache": statistics.median(timed(grade, repo, env) for _ in range(3)),
            "pytest, first run": timed(pytest, repo, env),
            "pytest, again": statistics.median(timed(pytest, repo, env) for _ in range(3)),
        }
    if env.get("PYTHONDONTWRITEBYTECODE"):
        print("PYTHONDONTWRITEBYTECODE is set: no bytecode is cached, pytest rewrites assertions on every run")
    for name, seconds in figures.items():
        print(f"{name:28} {seconds:6.2f} s")
    ratio = figures["pytest, again"] / figures["harness grade, warm cache"]
    print(f"{'pytest again / warm grade':28} {ratio:6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
