"""The runner: definitions, calls, every failure status, fresh workers, cleanup."""

from __future__ import annotations

import gc
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from harness import sandbox
from harness.errors import UsageError
from harness.runner import Definition, LeftOut, Limits, Outcome, SubmissionRunner, escape_text, surviving_processes

LIMITS = Limits(call_timeout=1.0, memory_bytes=512 << 20, submission_timeout=30.0)

MODULE = '''\
import math
import os
import time

import numpy as np

CLAIM = False
RATE = 3
SHAPE = [[1, 2], [3, 4]]
NAME = "sigmoid"


def sigmoid(z):
    return 1 / (1 + math.exp(-z))


def dyhat_dw1(x, w1, b1, w2, b2):
    a1 = sigmoid(w1 * x + b1)
    yhat = sigmoid(w2 * a1 + b2)
    return yhat * (1 - yhat) * w2 * a1 * (1 - a1) * x


def kinds(x, w):
    return [float(type(x) is float), float(type(w) is np.ndarray and w.dtype == np.float64)]


def mutate(w):
    w *= 2
    return w


def divide(x):
    return x / 0


def chatty(x):
    print("x is", x, "\\x1b[31m")
    return x


def loud(x):
    print("y" * 100)
    return x


def sleepy(x):
    if x > 0:
        time.sleep(100)
    return x


def hog(x):
    return np.ones(1 << 30).sum()


def text(x):
    return "0.5"


def complex_value(x):
    return 1j


def die(x):
    os._exit(3)


def variadic(x, *args, **kwargs):
    return x


def orphan_and_die(x):
    if os.fork() == 0:
        time.sleep(100)  # holds the worker's pipes
    os._exit(3)
'''


def line_of(text: str) -> int:
    """The 1-based line of MODULE where ``text`` first appears."""
    return next(n for n, line in enumerate(MODULE.splitlines(), 1) if text in line)


def make_submission(folder: Path, **modules: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
    return folder


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory):
    folder = make_submission(
        tmp_path_factory.mktemp("student"),
        q2_4=MODULE,
        broken="def f(x):\n    return x +\n",
        needs_missing="import no_such_package.special\n",
        raises="x = 1\nraise ValueError('bad at import')\n",
    )
    with SubmissionRunner(folder, LIMITS) as runner:
        yield runner


SCALARS = {"x": np.array(0.3), "w1": np.array(0.5), "b1": np.array(-0.2), "w2": np.array(1.5), "b2": np.array(0.1)}


def expected_dyhat_dw1(x, w1, b1, w2, b2):
    a1 = 1 / (1 + np.exp(-(w1 * x + b1)))
    yhat = 1 / (1 + np.exp(-(w2 * a1 + b2)))
    return yhat * (1 - yhat) * w2 * a1 * (1 - a1) * x


def test_a_function_is_described_by_its_parameters_and_line(runner):
    assert runner.inspect("q2_4", "dyhat_dw1") == Definition(
        "function", parameters=("x", "w1", "b1", "w2", "b2"), line=line_of("def dyhat_dw1")
    )


def test_star_args_are_flagged(runner):
    assert runner.inspect("q2_4", "variadic") == Definition("function", parameters=("x",), has_varargs=True, line=line_of("def variadic"))


def test_constants_come_back_as_plain_python_values(runner):
    assert runner.inspect("q2_4", "CLAIM") == Definition("value", value=False, value_type="bool")
    assert runner.inspect("q2_4", "RATE") == Definition("value", value=3.0, value_type="int")
    assert runner.inspect("q2_4", "SHAPE") == Definition("value", value=((1.0, 2.0), (3.0, 4.0)), value_type="list")
    assert runner.inspect("q2_4", "NAME") == Definition("value", value=None, value_type="str")
    assert type(runner.inspect("q2_4", "CLAIM").value) is bool


def test_missing_module_and_missing_name_are_reported(runner):
    assert runner.inspect("q2_1", "f") == Definition("missing_module", message="the submission has no file q2_1.py")
    definition = runner.inspect("q2_4", "dyhat_dw2")
    assert definition.status == "missing_name"
    assert definition.message.startswith("q2_4.py defines no 'dyhat_dw2'; it defines: CLAIM, NAME, RATE, SHAPE, ")


def test_module_errors_say_what_and_where(runner):
    assert runner.inspect("broken", "f") == Definition(
        "module_error", message="SyntaxError: invalid syntax at import (broken.py, line 2)"
    )
    assert runner.inspect("needs_missing", "f") == Definition(
        "module_error",
        message="ModuleNotFoundError: No module named 'no_such_package' at import (needs_missing.py, line 1)",
    )
    assert runner.inspect("raises", "f") == Definition(
        "module_error", message="ValueError: bad at import at import (raises.py, line 2)"
    )


def test_calling_into_a_broken_module_is_an_exception_outcome(runner):
    outcome = runner.call("broken", "f", {"x": np.array(1.0)})
    assert outcome == Outcome("exception", message="SyntaxError: invalid syntax at import (broken.py, line 2)")


def test_a_correct_function_returns_float64_values(runner):
    outcome = runner.call("q2_4", "dyhat_dw1", SCALARS)
    assert outcome.status == "ok"
    assert outcome.value.dtype == np.float64 and outcome.value.shape == ()
    assert outcome.value == pytest.approx(expected_dyhat_dw1(**{k: float(v) for k, v in SCALARS.items()}), rel=1e-15)


def test_scalars_arrive_as_floats_and_arrays_as_float64_arrays(runner):
    outcome = runner.call("q2_4", "kinds", {"x": np.array(1.0), "w": np.arange(3.0)})
    assert outcome.status == "ok"
    assert outcome.value.tolist() == [1.0, 1.0]


def test_each_call_gets_fresh_copies_of_its_arguments(runner):
    w = np.array([1.0, 2.0])
    first = runner.call("q2_4", "mutate", {"w": w})
    second = runner.call("q2_4", "mutate", {"w": w})
    assert first.value.tolist() == second.value.tolist() == [2.0, 4.0]
    assert w.tolist() == [1.0, 2.0]


def test_an_exception_names_its_type_message_and_line(runner):
    assert runner.call("q2_4", "divide", {"x": np.array(1.0)}) == Outcome(
        "exception", message=f"ZeroDivisionError: float division by zero (q2_4.py, line {line_of('x / 0')})"
    )


def test_output_is_captured_per_call_and_escaped(runner):
    outcome = runner.call("q2_4", "chatty", {"x": np.array(2.0)})
    assert outcome.output == "x is 2.0 \\x1b[31m\n"
    assert runner.call("q2_4", "dyhat_dw1", SCALARS).output == ""


def test_each_call_of_a_batch_gets_its_own_output(runner):
    # The replies of a batch arrive together; the worker's end-of-output marks keep them apart.
    outcomes = runner.call_many("q2_4", "chatty", [{"x": np.array(float(x))} for x in range(40)])
    assert [o.output for o in outcomes] == [f"x is {float(x)} \\x1b[31m\n" for x in range(40)]


def test_long_output_is_truncated(tmp_path):
    folder = make_submission(tmp_path / "s", q2_4=MODULE)
    with SubmissionRunner(folder, Limits(call_timeout=1.0, output_bytes=10)) as runner:
        outcome = runner.call("q2_4", "loud", {"x": np.array(1.0)})
    assert outcome.status == "ok"
    assert outcome.output == "yyyyyyyyyy\n... [91 more bytes of output not shown]"


def test_non_numeric_and_complex_results_are_bad_values(runner):
    assert runner.call("q2_4", "text", {"x": np.array(1.0)}) == Outcome(
        "bad_value", message="returned a non-numeric value of type 'str'"
    )
    assert runner.call("q2_4", "complex_value", {"x": np.array(1.0)}) == Outcome(
        "bad_value", message="returned complex numbers"
    )


def test_running_out_of_memory_is_reported_with_the_limit(runner):
    assert runner.call("q2_4", "hog", {"x": np.array(1.0)}) == Outcome(
        "memory", message="killed: memory limit 512 MiB"
    )
    assert runner.call("q2_4", "dyhat_dw1", SCALARS).status == "ok"


def test_a_dying_worker_is_a_crash_and_is_replaced(runner):
    assert runner.call("q2_4", "die", {"x": np.array(1.0)}) == Outcome(
        "crashed", message="the worker process exited with code 3 before replying (os._exit?)"
    )
    assert runner.call("q2_4", "dyhat_dw1", SCALARS).status == "ok"


def test_a_dead_worker_is_noticed_while_a_child_still_holds_its_pipes(tmp_path):
    folder = make_submission(tmp_path / "s", q2_4=MODULE)
    # Without bubblewrap's PID namespace the child outlives the worker until the runner kills it.
    with SubmissionRunner(folder, Limits(call_timeout=30.0), sandbox=sandbox.detect(bwrap=None)) as runner:
        started = time.monotonic()
        outcome = runner.call("q2_4", "orphan_and_die", {"x": np.array(1.0)})
        elapsed = time.monotonic() - started
        run_id = runner.run_id
    assert outcome == Outcome("crashed", message="the worker process exited with code 3 before replying (os._exit?)")
    assert elapsed < 10
    assert surviving_processes(run_id) == []


def test_a_hang_costs_only_the_calls_it_hung_on(runner):
    started = runner.workers_started
    batch = [{"x": np.array(v)} for v in (0.0, 1.0, -1.0, -2.0)]
    outcomes = runner.call_many("q2_4", "sleepy", batch)
    assert [o.status for o in outcomes] == ["ok", "timeout", "ok", "ok"]
    assert outcomes[1].message == "timed out after 1 s"
    assert [float(o.value) for o in outcomes if o.status == "ok"] == [0.0, -1.0, -2.0]
    assert runner.workers_started == started + 1


def test_call_many_returns_one_outcome_per_call_in_order(runner):
    batch = [dict(SCALARS, x=np.array(float(x))) for x in range(5)]
    outcomes = runner.call_many("q2_4", "dyhat_dw1", batch)
    expected = [expected_dyhat_dw1(float(x), 0.5, -0.2, 1.5, 0.1) for x in range(5)]
    assert [float(o.value) for o in outcomes] == pytest.approx(expected, rel=1e-15)


def test_the_submission_deadline_stops_every_later_call(tmp_path):
    folder = make_submission(tmp_path / "s", q2_4=MODULE)
    limits = Limits(call_timeout=0.5, submission_timeout=1.2)
    with SubmissionRunner(folder, limits) as runner:
        outcomes = runner.call_many("q2_4", "sleepy", [{"x": np.array(1.0)}] * 4)
    assert [o.message for o in outcomes] == ["timed out after 0.5 s"] * 2 + ["submission time limit of 1.2 s used up"] * 2


def test_no_process_survives_close(tmp_path):
    folder = make_submission(tmp_path / "s", q2_4=MODULE)
    runner = SubmissionRunner(folder, LIMITS)
    assert runner.call("q2_4", "dyhat_dw1", SCALARS).status == "ok"
    assert surviving_processes(runner.run_id)
    copy = runner.copy
    runner.close()
    assert surviving_processes(runner.run_id) == []
    assert not copy.exists()


def test_a_runner_dropped_without_close_still_cleans_up(tmp_path):
    folder = make_submission(tmp_path / "s", q2_4=MODULE)
    runner = SubmissionRunner(folder, LIMITS)
    assert runner.call("q2_4", "dyhat_dw1", SCALARS).status == "ok"
    run_id, copy = runner.run_id, runner.copy
    del runner
    gc.collect()
    assert surviving_processes(run_id) == []
    assert not copy.exists()


def test_symlinks_and_special_files_are_not_copied(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the answers")
    folder = make_submission(tmp_path / "s", q2_4="def f(x):\n    return float(len(open('leak.txt').read()))\n")
    (folder / "leak.txt").symlink_to(secret)
    (folder / "__pycache__").mkdir()
    with SubmissionRunner(folder, LIMITS) as runner:
        assert runner.left_out == (LeftOut("leak.txt", "a symbolic link"),)
        assert runner.copy_note == "left out of the copy graded: leak.txt (a symbolic link)"
        outcome = runner.call("q2_4", "f", {"x": np.array(1.0)})
    assert outcome.status == "exception"
    assert outcome.message.startswith("FileNotFoundError: [Errno 2] No such file or directory: 'leak.txt'")


def test_bad_names_and_limits_are_usage_errors(tmp_path, runner):
    with pytest.raises(UsageError, match=r"module must be a Python identifier, got '\.\./x'"):
        runner.inspect("../x", "f")
    with pytest.raises(UsageError, match=r"Limits.call_timeout must be a positive number, got 0"):
        Limits(call_timeout=0)
    with pytest.raises(UsageError, match="does not exist"):
        SubmissionRunner(tmp_path / "nowhere")


def test_escape_text_keeps_newlines_and_escapes_control_characters():
    assert escape_text("a\x1b[2J\tb\nc\x00\u0085", 100) == "a\\x1b[2J\tb\nc\\x00\\x85"
    assert escape_text("line\nbreak", 100, keep_newlines=False) == "line\\x0abreak"
    assert escape_text("abcdef", 3) == "abc... [3 more characters]"


@pytest.mark.parametrize("namespaces", [True, False], ids=["sandbox found here", "bubblewrap where it runs"])
def test_captured_output_names_the_temporary_copy_alike_on_every_run(tmp_path, namespaces):
    module = "import os\n\n\ndef where(x):\n    print(os.getcwd(), __file__)\n    return x\n"
    folder = make_submission(tmp_path / "s", q2_4=module)
    outputs = []
    for _ in range(2):
        with SubmissionRunner(folder, LIMITS, sandbox=sandbox.detect(namespaces=namespaces)) as runner:
            outputs.append(runner.call("q2_4", "where", {"x": np.array(1.0)}).output)
    assert outputs[0] == outputs[1] and str(tmp_path) not in outputs[0] and "/tmp/" not in outputs[0]


BATCHED = '''\
import os
import time


def die_at_two(x):
    print("call", x)
    if x == 2:
        os._exit(3)
    return x


def slow(x):
    time.sleep(0.6)
    return x
'''


def test_a_crash_inside_a_batch_costs_only_its_own_call(tmp_path):
    folder = make_submission(tmp_path / "s", batched=BATCHED)
    with SubmissionRunner(folder, LIMITS) as runner:
        outcomes = runner.call_many("batched", "die_at_two", [{"x": np.array(float(x))} for x in range(5)])
        # The calls before the crash are made again by the fresh worker, which also makes the rest.
        assert runner.workers_started == 2
    assert [o.status for o in outcomes] == ["ok", "ok", "crashed", "ok", "ok"]
    # os._exit skips flushing what the crashing call printed; every other call has its own output.
    assert [o.output for o in outcomes] == [f"call {x:.1f}\n" if x != 2 else "" for x in range(5)]
    assert [float(o.value) for o in outcomes if o.status == "ok"] == [0.0, 1.0, 3.0, 4.0]


def test_every_call_of_a_batch_has_the_call_deadline(tmp_path):
    folder = make_submission(tmp_path / "s", batched=BATCHED)
    with SubmissionRunner(folder, Limits(call_timeout=1.0)) as runner:
        outcomes = runner.call_many("batched", "slow", [{"x": np.array(float(x))} for x in range(3)])
        assert runner.workers_started == 1
    assert [o.status for o in outcomes] == ["ok"] * 3  # 1.8 s for the batch, 0.6 s per call
