"""Grade one Gradescope submission: what the bundle's ``run_autograder`` runs.

Gradescope puts the upload in ``<root>/submission`` and reads ``<root>/results/results.json``
(``<root>`` is ``/autograder``). That file is always written: an upload with no files is graded
like any other (each item fails with "missing file ...") under a note saying what was uploaded,
and a crash of the grading becomes one failed test saying what happened, never a missing file.
Each test's visibility is the spec's (``settings.visibility``, overridden per item). With a
``cache_dir`` (the bundle's ``setup.sh`` warms one when it builds the image), every submission is
graded warm: its references, inputs and claims are read back, not computed.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from harness import (
    ANSWERS_FILE,
    Assignment,
    GradeOptions,
    HarnessError,
    escape_text,
    grade,
    gradescope_results,
    load_spec,
    write_atomically,
)

RESULTS = Path("results/results.json")
SUBMISSION = Path("submission")


def autograde(root: Path, specs: Sequence[Path], options: GradeOptions = GradeOptions()) -> dict:
    """Grade ``root/submission`` against ``specs``, write ``root/results/results.json``, return it."""
    points = 0.0
    protect(root)
    try:
        assignments = [load_spec(path) for path in specs]
        points = sum(question.points for assignment in assignments for question in assignment.questions)
        document = _grade(assignments, root / SUBMISSION, options)
    except Exception as error:  # whatever happened, Gradescope must get a results.json
        traceback.print_exc(file=sys.stderr)  # Gradescope shows this to the instructor only
        document = crash_results(_explain(error), points)
    write_atomically(root / RESULTS, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return document


PRIVATE = ("source", "cache")
"""Folders of ``root`` a submission must not read (the specs, answer keys and true values)."""


def protect(root: Path) -> None:
    """Close the autograder's own folders to every other user before any student code runs.

    The submission's worker runs as an unprivileged uid of its own: ``source/`` (specs, answer
    keys, secrets) and ``cache/`` (true values) become private to root, and ``results/`` writable
    by root only, whatever Gradescope's image left them as. A folder that is not root's (a test
    laying out a fake root as an ordinary user) is left as it is.
    """
    for name, mode in [*((name, 0o700) for name in PRIVATE), ("results", 0o755)]:
        folder = root / name
        try:
            if folder.is_dir() and not folder.is_symlink() and folder.stat().st_uid == os.geteuid():
                folder.chmod(mode)
        except OSError as error:
            print(f"autograde: could not make {folder} private: {error}", file=sys.stderr)


def crash_results(message: str, max_score: float) -> dict:
    """A ``results.json`` with one failed test saying why the submission could not be graded."""
    return {
        "score": 0.0,
        "output": message,
        "test_name_format": "text",
        "stdout_visibility": "hidden",  # the traceback printed for the instructor
        "tests": [{"name": "autograder", "score": 0.0, "max_score": max_score, "status": "failed",
                   "output": message, "tags": ["not graded"],
                   "extra_data": {"status": "error", "mistake": "not graded", "summary": message}}],
    }


def _grade(assignments: Sequence[Assignment], submission: Path, options: GradeOptions) -> dict:
    documents = []
    for assignment in assignments:
        result = grade(assignment, submission, options)
        document = gradescope_results(result, visibility=assignment.visibility)
        if len(assignments) > 1:  # the same item name may occur in two specs
            for test in document["tests"]:
                test["name"] = f"{Path(assignment.path).stem}: {test['name']}"
        documents.append(document)
    merged = {
        **documents[0],
        "score": round(sum(document["score"] for document in documents), 6),
        "execution_time": sum(document["execution_time"] for document in documents),
        "output": "\n\n".join(document["output"] for document in documents),
        "tests": [test for document in documents for test in document["tests"]],
    }
    note = _upload_note(submission, assignments)
    if note:
        merged["output"] = f"**{escape_text(note)}**\n\n{merged['output']}"  # names are the student's
    return merged


def _upload_note(submission: Path, assignments: Sequence[Assignment]) -> str | None:
    """What is wrong with the upload as a whole, when something obviously is."""
    expected = sorted({f"{q.module}.py" for assignment in assignments for q in assignment.questions})
    entries = [entry for entry in submission.iterdir() if not entry.name.startswith(".")]
    if not entries:
        return f"Your submission is empty. Upload your files: {', '.join(expected)}."
    if any(entry.suffix == ".py" or entry.name == ANSWERS_FILE for entry in entries):
        return None
    folders = sorted(f"{entry.name}/" for entry in entries if entry.is_dir())
    if folders:
        return (f"Your upload has no .py file at its top level, only the folder(s) {', '.join(folders)}. "
                f"Upload the files themselves ({', '.join(expected)}), not a folder holding them.")
    return None


def _explain(error: Exception) -> str:
    if isinstance(error, HarnessError):
        return f"The submission could not be graded: {error}"
    return (f"The autograder itself failed ({type(error).__name__}: {error}). This is not a "
            "problem with your submission; please tell your instructor.")
