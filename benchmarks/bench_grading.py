"""Benchmark: grade a synthetic class with the harness, the naive way, and at the bare cost.

Run from the repository root (the full table takes about 15 minutes on 2 cores):

    python benchmarks/bench_grading.py                 # N = 50, 100, 200, both Q2 editions, and 1,000
    python benchmarks/bench_grading.py --sizes 10 --large 0   # a quick look

It writes a class of N submissions for Question 2 into a temporary folder: half of them correct,
the other half with one to three of the mistakes students make (a sign error, a missing or extra
factor, a scalar-only formula, a transposed outer product, the wrong activation derivative, a
wrong claim). Every submission answers both editions; a scalar-only formula is right in the scalar
edition. Then, for each edition and each N, it measures on this machine:

1. **harness, cold / warm**: ``harness grade SPEC SUBMISSION... --jobs J`` as a fresh process,
   first with an empty reference cache, then again with the cache it left;
2. **naive**: what a course would write without the harness: for every submission and item, its
   own Hypothesis test (``max_examples`` as in the spec, shrinking on) that draws the sizes and
   then every variable's floats from its domain (a plain strategy, leaner than the harness's),
   computes the true derivative at every example with ``mpmath.diff`` (30 digits, a hand-written
   mpmath forward pass) and calls the student's function imported in-process (no sandbox, no
   worker: cheaper than what the harness does). Nothing is shared between submissions, so its time is a sum over
   submissions of one test per (item, activation), each determined by the item's code: every
   distinct (item, variant) of the class is timed once, and the class's time is the sum of its
   submissions' tests. A full naive run on the first ``--naive-check`` submissions checks that
   sum against a measured one;
3. **bare**: the same functions called on the same inputs in one process (importing each
   submission; the inputs are the harness's, prepared beforehand), plus one ``python -c "import
   numpy"`` process start per submission (measured by starting them): what merely running the
   students' code costs when each submission gets a fresh Python;
4. **limit**: per submission, a fork of one process that has numpy loaded, which imports the
   submission, makes the same calls and exits: the least any grader that keeps submissions apart
   in processes must do (no isolation, no judging, no reports), on one core.

A class of ``--large`` submissions (1,000 by default, scalar edition) is graded too. Times are
wall-clock seconds. Peak memory is the largest resident set of any one process of the run
(``ru_maxrss``). The harness uses ``--jobs`` processes; naive, bare and the limit use one core.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SPECS = {
    "scalar": ROOT / "specs" / "q2_neural_networks.yaml",
    "vector": ROOT / "specs" / "q2_neural_networks_vector.yaml",
}

# -- the synthetic class ----------------------------------------------------------------------------
PARAMETERS = {
    ("q2_1", "dyhat_dw2"): "a1, dyhat_dz2",
    ("q2_1", "dyhat_db2"): "dyhat_dz2",
    ("q2_2", "dyhat_dw2"): "a1, z2",
    ("q2_2", "dyhat_db2"): "z2",
    ("q2_3", "dyhat_dx"): "w1, w2, z1, z2",
    ("q2_4", "dyhat_dw1"): "x, w2, a1, yhat",
}
OUTER = "np.multiply.outer(w2 * a1 * (1 - a1), x)"
VARIANTS: dict[tuple[str, str], dict[str, str]] = {
    ("q2_1", "dyhat_dw2"): {
        "correct": "dyhat_dz2 * a1",
        "sign error": "-dyhat_dz2 * a1",
        "missing factor": "dyhat_dz2",
    },
    ("q2_1", "dyhat_db2"): {"correct": "dyhat_dz2", "extra factor": "0.25 * dyhat_dz2"},
    ("q2_2", "dyhat_dw2"): {
        "correct": "sigmoid(z2) * a1",
        "missing factor": "sigmoid(z2)",
        "sign error": "-sigmoid(z2) * a1",
    },
    ("q2_2", "dyhat_db2"): {"correct": "sigmoid(z2)", "wrong derivative": "sigmoid(z2) * (1 - sigmoid(z2))"},
    ("q2_3", "dyhat_dx"): {
        "correct": "sigmoid(z2) * np.dot(w2 * sigmoid(z1), w1)",
        "scalar-only": "sigmoid(z2) * w2 * sigmoid(z1) * w1",
        "transposed": "sigmoid(z2) * np.dot(w1, w2 * sigmoid(z1))",
        "sign error": "-sigmoid(z2) * np.dot(w2 * sigmoid(z1), w1)",
    },
    ("q2_3", "dyhat_dx_changes_with_b2"): {"correct": "True", "wrong claim": "False"},
    ("q2_4", "dyhat_dw1"): {
        "correct": f"yhat * (1 - yhat) * {OUTER}",
        "transposed": "yhat * (1 - yhat) * np.multiply.outer(x, w2 * a1 * (1 - a1))",
        "scalar-only": "yhat * (1 - yhat) * w2 * a1 * (1 - a1) * x",
        "missing factor": "yhat * (1 - yhat) * np.multiply.outer(w2 * a1, x)",
        "sign error": f"-yhat * (1 - yhat) * {OUTER}",
    },
}
SIGMOID = '''

def sigmoid(z):
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))
'''


def make_class(folder: Path, count: int, seed: int) -> dict[str, dict[str, str]]:
    """Write ``count`` submissions; return each one's variant per slot ("q2_4.dyhat_dw1")."""
    rng = random.Random(seed)
    wrong_slots = [slot for slot, variants in VARIANTS.items() if len(variants) > 1]
    manifest = {}
    for number in range(count):
        chosen = {slot: "correct" for slot in VARIANTS}
        if rng.random() >= 0.5:  # half the class makes one to three mistakes
            for slot in rng.sample(wrong_slots, rng.choice([1, 1, 2, 3])):
                chosen[slot] = rng.choice([v for v in VARIANTS[slot] if v != "correct"])
        name = f"student_{number:03d}"
        for module in sorted({module for module, _ in VARIANTS}):
            lines = [f'"""{module}, by {name}."""', "", "import numpy as np", SIGMOID]
            for (where, function), variants in VARIANTS.items():
                if where != module:
                    continue
                code = variants[chosen[(where, function)]]
                if (where, function) in PARAMETERS:
                    lines.append(f"\ndef {function}({PARAMETERS[(where, function)]}):\n    return {code}\n")
                else:
                    lines.append(f"\n{function} = {code}\n")
            (folder / name).mkdir(parents=True, exist_ok=True)
            (folder / name / f"{module}.py").write_text("\n".join(lines))
        manifest[name] = {f"{module}.{function}": variant for (module, function), variant in chosen.items()}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


# -- measuring -------------------------------------------------------------------------------------
def measured(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run ``command``; its wall time, the peak RSS (KiB) of its largest process, and its stdout."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        "done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)\n"
        "took = time.perf_counter() - start\n"
        "sys.stderr.write(done.stderr)\n"
        "print(took, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.returncode)\n"
        "print(done.stdout, end='')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True, env=env, cwd=ROOT)
    first, _, output = done.stdout.partition("\n")
    took, peak, code = first.split()
    if code != "0":
        raise SystemExit(f"benchmark: {' '.join(command[:4])} ... failed ({code}):\n{done.stderr[-3000:]}")
    return float(took), int(peak), output


def harness_run(spec: Path, submissions: list[Path], cache: Path, out: Path, jobs: int) -> tuple[float, int]:
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "harness", "grade", str(spec), *map(str, submissions), "--out", str(out),
               "--jobs", str(jobs), "--cache-dir", str(cache), "--quiet"]
    took, peak, _ = measured(command)
    return took, peak


def process_starts(count: int) -> float:
    """Seconds to start ``count`` Python processes that import numpy, one after the other."""
    start = time.perf_counter()
    for _ in range(count):
        subprocess.run([sys.executable, "-I", "-c", "import numpy"], check=True)
    return time.perf_counter() - start


def internal(mode: str, *arguments: str) -> dict:
    """Run this script's ``mode`` in a fresh process (so its memory is its own); its JSON answer."""
    took, peak, output = measured([sys.executable, __file__, "--internal", mode, *arguments])
    answer = json.loads(output)
    answer["peak_kib"] = peak
    return answer


def load_module(path: Path, name: str):
    specification = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(specification)
    specification.loader.exec_module(module)
    return module


# -- bare: the students' functions on the harness's inputs, in one process -------------------------
def survey_work(spec_path: str, cache: str) -> list[tuple[str, str, dict]]:
    """``(module, function, arguments)`` for every call the survey makes, from the harness's inputs."""
    import harness

    work = []
    for call in harness.survey(harness.load_spec(spec_path), harness.GradeOptions(cache_dir=Path(cache))):
        module, name = call.question.module, call.item.name
        parameters = PARAMETERS[(module, name)].split(", ")
        work.append((module, name, {parameter: call.arguments[parameter] for parameter in parameters}))
    return work


def make_calls(work: list[tuple[str, str, dict]], submission: str, prefix: str) -> int:
    """Import ``submission``'s modules and make every call of ``work`` (failures ignored); how many."""
    import numpy as np

    modules = {}
    for module, function, arguments in work:
        if module not in modules:
            modules[module] = load_module(Path(submission) / f"{module}.py", f"{prefix}_{module}")
        try:
            np.asarray(getattr(modules[module], function)(**arguments), dtype=np.float64)
        except Exception:
            pass
    return len(work)


def bare(spec_path: str, cache: str, *submissions: str) -> dict:
    work = survey_work(spec_path, cache)  # prepared beforehand
    start = time.perf_counter()
    calls = sum(make_calls(work, submission, f"bare{number}") for number, submission in enumerate(submissions))
    return {"seconds": time.perf_counter() - start, "calls": calls}


# -- limit: fork a process that has numpy loaded, make the calls: what no harness can beat -----------
def limit(spec_path: str, cache: str, *submissions: str) -> dict:
    """Per submission: fork this process (numpy loaded), import the submission, make every call, exit.

    One after the other on one core, the inputs prepared beforehand: the least any isolating
    grader must do (a fresh process per submission, the students' own calls), with no isolation,
    no judging, no protocol and no reports.
    """
    work = survey_work(spec_path, cache)
    start = time.perf_counter()
    for number, submission in enumerate(submissions):
        child = os.fork()
        if child == 0:
            make_calls(work, submission, f"limit{number}")
            os._exit(0)
        os.waitpid(child, 0)
    return {"seconds": time.perf_counter() - start, "calls": len(work) * len(submissions)}


# -- naive: one Hypothesis test per submission and item, mpmath.diff at every example ---------------
def naive(spec_path: str, tests: str, rounds: str = "1", drawing: str = "plain") -> dict:
    """Time each requested test; ``tests`` is JSON: [[submission, module, function], ...].

    With ``rounds`` above 1 every test runs that many times and the last time is kept: what a
    test costs once the process has run it before (its strategies built, its imports done).
    ``drawing`` is ``plain`` (sizes, then floats) or ``harness`` (the harness's own strategy).
    """
    import mpmath
    import numpy as np
    from hypothesis import HealthCheck, given, settings

    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    import harness

    assignment = harness.load_spec(spec_path)
    model = assignment.model
    mp = mpmath.mp
    mp.dps = assignment.settings.reference_digits
    activations = {
        "sigmoid": lambda z: 1 / (1 + mp.exp(-z)),
        "softplus": lambda z: mp.log(1 + mp.exp(z)),
        "tanh": mp.tanh,
    }

    def layers(point, s):
        """The forward pass in mpmath: x, b1, w2 are lists, w1 a list of rows, b2 a number."""
        x, w1, b1, w2, b2 = (point[name] for name in ("x", "w1", "b1", "w2", "b2"))
        z1 = [sum(w * v for w, v in zip(row, x)) + b for row, b in zip(w1, b1)]
        a1 = [s(z) for z in z1]
        z2 = sum(w * a for w, a in zip(w2, a1)) + b2
        return {"z1": z1, "a1": a1, "z2": z2, "yhat": s(z2)}

    @st.composite
    def inputs(draw):
        """What a course would write: the sizes, then every variable's floats from its domain.

        (Q2's domains keep every quantity far inside float64's range, so nothing is filtered.)
        """
        sizes = {name: draw(st.integers(low, high)) for name, (low, high) in model.dimensions}
        drawn = {}
        for variable in model.variables:
            low, high = variable.domain
            entries = st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)
            shape = tuple(sizes[dimension] for dimension in variable.shape)
            drawn[variable.name] = draw(hnp.arrays(np.float64, shape, elements=entries))
        return drawn

    def exact_point(drawn):
        """The inputs in mpmath, in the forward pass's layout (a scalar edition's x is [x], ...)."""
        value = {name: [mp.mpf(float(v)) for v in np.ravel(array)] for name, array in drawn.items()}
        columns = len(value["x"])
        rows = [value["w1"][i : i + columns] for i in range(0, len(value["w1"]), columns)]
        return {"x": value["x"], "w1": rows, "b1": value["b1"], "w2": value["w2"], "b2": value["b2"][0]}

    def entries(value):
        if not isinstance(value, list):
            return [value]
        return [e for row in value for e in row] if isinstance(value[0], list) else list(value)

    def moved(value, index, t):
        """``value`` (number, list or list of rows) with its entry ``index`` (row-major) set to ``t``."""
        if not isinstance(value, list):
            return t
        if isinstance(value[0], list):
            copy = [list(row) for row in value]
            copy[index // len(copy[0])][index % len(copy[0])] = t
            return copy
        copy = list(value)
        copy[index] = t
        return copy

    def derivative(point, s, wrt, shape):
        """d yhat / d wrt: one mpmath.diff per entry of wrt (``z2``: upstream held fixed)."""
        if wrt == "z2":
            return np.array(float(mpmath.diff(s, layers(point, s)["z2"]))).reshape(shape)
        found = [
            float(mpmath.diff(lambda t, i=i: layers({**point, wrt: moved(point[wrt], i, t)}, s)["yhat"], at))
            for i, at in enumerate(entries(point[wrt]))
        ]
        return np.array(found).reshape(shape)

    def one_test(function, item, question, activation):
        s = activations[activation]
        parameters = PARAMETERS[(question.module, item.name)].split(", ")

        @settings(max_examples=item.examples, database=None, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(inputs() if drawing == "plain" else
               harness.input_strategy(assignment, activation).map(lambda e: dict(e.values)))
        def test(given_values):
            point = exact_point(given_values)
            values = layers(point, s)
            hidden = given_values["b1"].shape  # () in the scalar edition, (H,) in the vector one
            arguments = {}
            for name in parameters:
                if name == "dyhat_dz2":
                    arguments[name] = derivative(point, s, "z2", ())
                elif name in given_values:
                    arguments[name] = np.array(given_values[name], dtype=np.float64)
                elif name in ("z1", "a1"):
                    arguments[name] = np.array([float(v) for v in values[name]]).reshape(hidden)
                else:
                    arguments[name] = np.array(float(values[name]))
            want = derivative(point, s, item.wrt, given_values[item.wrt].shape)
            got = np.asarray(function(**arguments), dtype=np.float64)
            if got.size == 1 and want.size == 1:
                got = got.reshape(want.shape)
            assert got.shape == want.shape
            assert np.all(np.abs(got - want) <= item.atol + item.rtol * np.abs(want))

        try:
            test()
            return True
        except Exception:
            return False

    for round_ in range(int(rounds)):  # the last round's times are kept
        timings = []
        for number, (submission, module, name) in enumerate(json.loads(tests)):
            item, question = next((i, q) for q in assignment.questions for i in q.items
                                  if q.module == module and i.name == name)
            start = time.perf_counter()
            loaded = load_module(Path(submission) / f"{module}.py", f"naive{round_}_{number}_{module}")
            if isinstance(item, harness.ClaimItem):
                passed = getattr(loaded, name) is item.truth  # the key's truth: nothing to compute
            else:
                passed = all([one_test(getattr(loaded, name), item, question, a) for a in question.activations])
            timings.append({"test": [submission, module, name], "seconds": time.perf_counter() - start,
                            "passed": passed})
    return {"timings": timings}


# -- the table -------------------------------------------------------------------------------------
def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    import hypothesis
    import mpmath
    import numpy

    import harness

    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB RAM; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, numpy {numpy.__version__}, hypothesis {hypothesis.__version__}, "
        f"mpmath {mpmath.__version__}\nisolation: {harness.detect_isolation()}"
    )


def tests_of(spec: Path) -> list[tuple[str, str]]:
    import harness

    return [(q.module, i.name) for q in harness.load_spec(spec).questions for i in q.items]


def naive_costs(
    spec: Path, folder: Path, manifest: dict, names: list[str], drawing: str
) -> dict[tuple[str, str, str], float]:
    """Seconds of the naive test of each (module, function, variant) occurring among ``names``."""
    wanted = {}
    for name in names:
        for module, function in tests_of(spec):
            wanted.setdefault((module, function, manifest[name][f"{module}.{function}"]), name)
    tests = [[str(folder / name), module, function] for (module, function, _), name in wanted.items()]
    timings = internal("naive", str(spec), json.dumps(tests), "2", drawing)["timings"]
    return {key: timing["seconds"] for key, timing in zip(wanted, timings)}


def naive_sum(spec: Path, manifest: dict, names: list[str], costs: dict) -> float:
    return sum(costs[(m, f, manifest[name][f"{m}.{f}"])] for name in names for m, f in tests_of(spec))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200], help="class sizes N")
    parser.add_argument("--editions", nargs="+", choices=sorted(SPECS), default=sorted(SPECS))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="the harness's --jobs")
    parser.add_argument("--naive-check", type=int, default=4, metavar="K",
                        help="run the naive way in full on the first K submissions, to check the sum")
    parser.add_argument("--naive-inputs", choices=["plain", "harness"], default="plain",
                        help="the naive tests' strategy: plain floats (default) or the harness's own")
    parser.add_argument("--seed", type=int, default=5, help="seed of the synthetic class")
    parser.add_argument("--large", type=int, default=1000, metavar="N",
                        help="also grade a class of N (0: not), in the --large-editions")
    parser.add_argument("--large-editions", nargs="+", choices=sorted(SPECS), default=["scalar"])
    parser.add_argument("--internal", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.internal:
        mode, *rest = args.internal
        print(json.dumps({"bare": bare, "limit": limit, "naive": naive}[mode](*rest)))
        return 0

    print(f"machine: {machine()}")
    print(f"harness: --jobs {args.jobs}; naive inputs: {args.naive_inputs}; class seed {args.seed}; "
          f"load average {_load()}\n", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as temporary:
        work = Path(temporary)
        manifest = make_class(work / "class", max(args.sizes + [args.large]), args.seed)
        names = sorted(manifest)
        mistakes = Counter(v for name in names for v in manifest[name].values() if v != "correct")
        correct = sum(all(v == "correct" for v in manifest[name].values()) for name in names)
        print(f"class of {len(names)}: {correct} fully correct; mistakes: "
              + ", ".join(f"{kind} {count}" for kind, count in mistakes.most_common()), flush=True)
        starts = {n: process_starts(n) for n in args.sizes}
        for edition in args.editions:
            spec = SPECS[edition]
            costs = naive_costs(spec, work / "class", manifest, names, args.naive_inputs)
            check = names[: args.naive_check]
            checked = internal("naive", str(spec), json.dumps(
                [[str(work / "class" / name), m, f] for name in check for m, f in tests_of(spec)]), "1",
                args.naive_inputs)
            measured_check = sum(t["seconds"] for t in checked["timings"])
            print(f"{edition}: naive on the first {len(check)} submissions: measured {measured_check:.1f} s, "
                  f"sum of per-test times {naive_sum(spec, manifest, check, costs):.1f} s "
                  f"(peak {checked['peak_kib'] >> 10} MiB)", flush=True)
            sizes = list(args.sizes) + ([args.large] if args.large and edition in args.large_editions else [])
            for n in sizes:
                subset = [work / "class" / name for name in names[:n]]
                cache = work / f"cache-{edition}-{n}"
                cold, cold_peak = harness_run(spec, subset, cache, work / "out", args.jobs)
                warm, warm_peak = harness_run(spec, subset, cache, work / "out", args.jobs)
                calls = internal("bare", str(spec), str(cache), *map(str, subset))
                bound = internal("limit", str(spec), str(cache), *map(str, subset))
                if n not in starts:
                    starts[n] = process_starts(n)
                row = {
                    "edition": edition, "n": n, "cold": cold, "warm": warm,
                    "naive": naive_sum(spec, manifest, names[:n], costs),
                    "bare": calls["seconds"] + starts[n], "bare_calls": calls["seconds"], "starts": starts[n],
                    "limit": bound["seconds"],
                    "peak": max(cold_peak, warm_peak) >> 10, "naive_peak": checked["peak_kib"] >> 10,
                    "bare_peak": calls["peak_kib"] >> 10,
                }
                rows.append(row)
                print(_row(row), flush=True)
            subset = [work / "class" / name for name in names[: max(args.sizes)]]
            cache = work / f"cache-{edition}-{max(args.sizes)}"
            one_job, _ = harness_run(spec, subset, cache, work / "out", 1)
            row = next(r for r in rows if r["edition"] == edition and r["n"] == max(args.sizes))
            row["warm_one_job"] = one_job
            print(f"{edition}, N = {row['n']}, warm cache, --jobs 1: {one_job:.1f} s", flush=True)
        single_cache = work / "cache-single"
        single = [SPECS["scalar"], ROOT / "submissions" / "sample_student"]
        harness_run(single[0], single[1:], single_cache, work / "single", args.jobs)
        single_warm, _ = harness_run(single[0], single[1:], single_cache, work / "single", args.jobs)
    print(f"\nload average at the end: {_load()}\n")
    print(table(rows))
    for row in rows:
        if "warm_one_job" in row:
            print(f"\n{row['edition']}, N = {row['n']}, warm cache, harness --jobs 1 (one core, like naive, bare "
                  f"and the limit): {row['warm_one_job']:.1f} s, naive / harness {row['naive'] / row['warm_one_job']:.0f}×, "
                  f"harness / limit {row['warm_one_job'] / row['limit']:.1f}×")
    print(f"\nsingle student, warm cache (harness grade specs/q2_neural_networks.yaml "
          f"submissions/sample_student): {single_warm:.2f} s")
    return 0


def _load() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


HEADER = ("| edition | N | harness cold s (sub/s) | harness warm s (sub/s) | cold − warm s | naive s (sub/s) "
          "| limit s (fork + calls) | bare s (calls + starts) | naive / warm | naive / cold | warm / limit "
          "| cold / limit | warm / bare | peak MiB harness · naive · bare |")


def _row(row: dict) -> str:
    def rate(seconds: float) -> str:
        return f"{seconds:.1f} ({row['n'] / seconds:.1f})"

    return (
        f"| {row['edition']} | {row['n']} | {rate(row['cold'])} | {rate(row['warm'])} "
        f"| {row['cold'] - row['warm']:.1f} "
        f"| {rate(row['naive'])} | {row['limit']:.2f} "
        f"| {row['bare']:.1f} ({row['bare_calls']:.2f} + {row['starts']:.1f}) "
        f"| {row['naive'] / row['warm']:.0f}× | {row['naive'] / row['cold']:.0f}× "
        f"| {row['warm'] / row['limit']:.1f}× | {row['cold'] / row['limit']:.1f}× "
        f"| {row['warm'] / row['bare']:.2f}× "
        f"| {row['peak']} · {row['naive_peak']} · {row['bare_peak']} |"
    )


def table(rows: list[dict]) -> str:
    lines = [HEADER, "|" + "---|" * (HEADER.count("|") - 1)]
    return "\n".join(lines + [_row(row) for row in rows])


if __name__ == "__main__":
    sys.exit(main())
