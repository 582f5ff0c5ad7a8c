"""Build a Gradescope autograder zip: setup.sh, run_autograder, the specs and the harness itself.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` there once when it
builds the image, and runs ``run_autograder`` for every submission. The bundle holds:

- ``setup.sh``: installs python3 (the builder's version when the image has it, and bubblewrap, for
  the sandbox, when it can), makes a venv at ``/autograder/venv``, pip-installs ``harness-src/``
  into it with its dependencies pinned to the builder's versions, and warms the
  reference cache ``/autograder/cache`` for the specs (``harness cache warm``), so that every
  submission is graded warm;
- ``harness-src/``: the harness's own source tree (``harness.integrations.vendor``), so the
  bundle grades with exactly the harness that built it and needs no index URL for it (not named
  ``harness/``: run in ``source/``, Python would find that folder before the installed package);
- ``specs/``: the specs, checked when the bundle is built;
- ``run_autograder``: ``harness autograde`` (``harness.integrations.autograder``), with a shell
  fallback that still writes ``results.json`` when Python or the harness cannot start at all.

Both scripts read ``HARNESS_AUTOGRADER_ROOT`` (default ``/autograder``), and ``run_autograder``
``HARNESS_PYTHON`` (default the venv's python), so a test can run the bundle in a temporary folder
laid out like ``/autograder``. The zip's bytes depend only on its contents (fixed timestamps,
sorted entries), so rebuilding an unchanged bundle gives an identical file.
"""

from __future__ import annotations

import json
import shlex
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

from harness import GradeOptions, UsageError, load_spec, lock_path
from harness.integrations import vendor
from harness.integrations.autograder import crash_results

_SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, in /autograder/source, when it builds the autograder image.
set -euo pipefail
cd "$(dirname "$0")"
root="${{HARNESS_AUTOGRADER_ROOT:-/autograder}}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3 python3-venv python3-pip
# The sandbox for student code; without it the harness falls back to process isolation.
apt-get install -y -qq bubblewrap || echo "setup.sh: no bubblewrap; grading without the sandbox" >&2
# The dependencies are pinned to the versions that built the bundle (harness-src/pyproject.toml),
# so grading draws the same inputs; those versions may need the Python that built it.
python=python{python}
apt-get install -y -qq "$python" "$python-venv" \
  || {{ echo "setup.sh: no $python; trying python3 (the pinned dependencies may not install)" >&2; python=python3; }}
"$python" -m venv "$root/venv"
"$root/venv/bin/python" -m pip install --quiet --upgrade pip
# The harness ships in this bundle; pip fetches only its dependencies, at the pinned versions.
"$root/venv/bin/python" -m pip install --quiet ./harness-src
"$root/venv/bin/python" -m harness --version
# Compute once what every submission needs (references, inputs, claims), so each is graded warm.
"$root/venv/bin/python" -m harness cache warm --cache-dir "$root/cache"{options} {specs}
# Student code runs as an unprivileged uid of its own (the harness picks one per submission; no
# account is needed): the specs, answer keys and true values must be private to root, and the
# interpreter readable by everyone.
chmod 700 "$root/source" "$root/cache"
chmod -R a+rX "$root/venv"
"$root/venv/bin/python" -m harness.sandbox
"""

_RUN = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission. It always leaves results.json behind: if the harness
# cannot even start, the fallback below writes one failed test saying so.
set -u
root="${{HARNESS_AUTOGRADER_ROOT:-/autograder}}"
python="${{HARNESS_PYTHON:-$root/venv/bin/python}}"
results="$root/results/results.json"
mkdir -p "$root/results"
chmod 755 "$root/results"
chmod 700 "$root/source" "$root/cache" 2>/dev/null
rm -f "$results"
cd "$root/source" || exit 1
"$python" -m harness autograde --root "$root" --cache-dir "$root/cache"{options} {specs}
status=$?
if [ ! -s "$results" ]; then
  echo "run_autograder: the harness exited with status $status and wrote no results.json" >&2
  cat > "$results" <<'JSON'
{fallback}
JSON
fi
exit 0
"""

_FALLBACK = ("The autograder could not start, so this submission was not graded. This is not a "
             "problem with your submission; please tell your instructor.")


def build_bundle(specs: Sequence[Path], output: Path, options: GradeOptions = GradeOptions()) -> list[str]:
    """Write the autograder zip for ``specs`` to ``output``; returns the names it holds."""
    assignments = [load_spec(path) for path in specs]  # a spec error stops the build, not grading
    names = [f"specs/{Path(path).name}" for path in specs]
    if len(set(names)) != len(names):
        raise UsageError(f"two specs share a file name ({', '.join(map(str, specs))}); rename one")
    points = sum(question.points for assignment in assignments for question in assignment.questions)
    files: dict[str, tuple[bytes, int]] = {
        "setup.sh": (_setup_script(names, options).encode(), 0o755),
        "run_autograder": (_run_script(names, options, points).encode(), 0o755),
    }
    for name, path, assignment in zip(names, specs, assignments):
        files[name] = (Path(path).read_bytes(), 0o644)
        lock = lock_path(assignment)  # a lock of the drawn inputs travels with its spec
        if lock.is_file():
            files[f"specs/{lock.name}"] = (lock.read_bytes(), 0o644)
    for name, data in vendor.source_tree("harness gradescope, in the autograder bundle").items():
        files[f"harness-src/{name}"] = (data, 0o644)
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name in sorted(files):
            data, mode = files[name]
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16  # a regular file with these permissions
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, data)
    return sorted(files)


def _setup_script(specs: Sequence[str], options: GradeOptions) -> str:
    return _SETUP.format(options=_input_flags(options), specs=" ".join(map(shlex.quote, specs)),
                         python=f"{sys.version_info.major}.{sys.version_info.minor}")


def _run_script(specs: Sequence[str], options: GradeOptions, points: float) -> str:
    flags = _input_flags(options) + (" --require-sandbox" if options.require_sandbox else "")
    if options.isolation != "auto":
        flags += f" --isolation {options.isolation}"
    fallback = json.dumps(crash_results(_FALLBACK, points), indent=2)
    return _RUN.format(options=flags, specs=" ".join(map(shlex.quote, specs)), fallback=fallback)


def _input_flags(options: GradeOptions) -> str:
    """The options that decide the inputs drawn: the same in setup.sh's warm-up and in grading."""
    flags = ""
    if options.seed is not None:
        flags += f" --seed {options.seed}"
    if options.examples is not None:
        flags += f" --examples {options.examples}"
    return flags
