"""Which specs and submissions a run grades: the paths given, else the configured ones, else the defaults.

The CLI and the pytest plugin both find their specs here (the plugin relative to the repository's
root, the CLI relative to the working directory), so both read a folder alike: a folder holding
``.py`` files, ``answers.yaml`` or a write-up (``*.md``, ``*.tex``; a ``README.md`` alone does not
count) is one submission; any other folder is a folder of
submissions (each of its folders that does not start with a dot).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.answers import ANSWERS_FILE
from harness.config import Config
from harness.errors import UsageError
from harness.writeup.reading import writeup_files

DEFAULT_SPECS = Path("specs")
DEFAULT_SUBMISSIONS = Path("submissions")


def is_submission(folder: Path) -> bool:
    """Whether ``folder`` is one submission (it holds ``.py`` files, ``answers.yaml`` or a write-up)."""
    return any(folder.glob("*.py")) or (folder / ANSWERS_FILE).exists() or bool(writeups_in(folder))


def writeups_in(folder: Path) -> list[Path]:
    """The write-ups of a folder, a README apart (a folder of submissions often has one)."""
    return [path for path in writeup_files(folder) if not path.name.lower().startswith("readme")]


def submissions_in(folder: Path) -> list[Path]:
    """The submission folders of a folder of submissions, sorted (dot-folders left out)."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def spec_paths(given: Sequence[Path], config: Config, root: Path = Path(".")) -> list[Path]:
    """The specs given, else the configured ones, else ``root/specs/*.yaml``."""
    specs = list(given) or list(config.specs) or sorted((root / DEFAULT_SPECS).glob("*.yaml"))
    if not specs:
        raise UsageError(
            f"no spec given and no specs/*.yaml in {str(root)!r}: pass one or more SPEC.yaml files, "
            "or set specs in [tool.harness] of pyproject.toml"
        )
    return specs


def split_paths(paths: Sequence[Path], config: Config = Config()) -> tuple[list[Path], list[Path]]:
    """Spec files and submission folders among a command's paths (configured or default when none)."""
    specs: list[Path] = []
    submissions: list[Path] = []
    for path in paths:
        if path.suffix in (".yaml", ".yml") and path.is_file():
            specs.append(path)
        elif path.is_dir():
            submissions.extend([path] if is_submission(path) else submissions_in(path))
        else:
            raise UsageError(f"{str(path)!r} is neither a spec file (.yaml) nor a submission folder")
    specs = specs or spec_paths((), config)
    if not submissions and not any(p.is_dir() for p in paths):
        # A configured submission is one submission, even before it holds any file.
        if config.submission:
            submissions = [config.submission]
        elif DEFAULT_SUBMISSIONS.is_dir():
            submissions = submissions_in(DEFAULT_SUBMISSIONS)
    if not submissions:
        raise UsageError("no submissions: pass submission folders, or run where submissions/ has some")
    return specs, submissions


def answered_questions(folder: Path, assignment) -> int:
    """How many of ``assignment``'s questions ``folder`` holds something for: the question's module,
    a key of ``answers.yaml`` naming one of its items, or a write-up section headed with its id."""
    from harness.answers import load_answers
    from harness.writeup import WriteupAnswers

    try:
        written = load_answers(folder)
    except Exception:  # a broken answers.yaml is the grader's to report, item by item
        written = None
    try:
        writeup = WriteupAnswers.load(folder, assignment) if writeups_in(folder) else None
    except Exception:  # an unreadable write-up is reported when it is graded
        writeup = None
    count = 0
    for question in assignment.questions:
        names = [f"{question.id} {item.name}" for item in question.items]
        if ((folder / f"{question.module}.py").is_file()
                or (written is not None and any(written.has(name) for name in names))
                or (writeup is not None and writeup.answers(question.id))):
            count += 1
    return count


def pairs(assignments: Sequence, submissions: Sequence[Path]) -> tuple[list[tuple[int, Path]], list[tuple[int, Path]]]:
    """Which (assignment index, submission) pairs a run of several assignments grades, and which it skips.

    A class folder often holds the submissions of several assignments (``submissions/`` here
    does): a submission is graded against the assignments it answers most questions of (ties
    all kept: the scalar and vector editions of one question sheet), and against every one when it
    answers none (so that its report says what is missing). With one assignment, every pair.
    """
    every = [(number, submission) for number in range(len(assignments)) for submission in submissions]
    if len(assignments) < 2:
        return every, []
    best: dict[Path, int] = {}
    counts: dict[tuple[int, Path], int] = {}
    for number, submission in every:
        counts[(number, submission)] = answered_questions(submission, assignments[number])
        best[submission] = max(best.get(submission, 0), counts[(number, submission)])
    kept = [pair for pair in every if best[pair[1]] == 0 or counts[pair] == best[pair[1]]]
    skipped = [pair for pair in every if pair not in kept]
    return kept, skipped


def not_gradable(folder: Path, expected: Sequence[str]) -> str | None:
    """Why ``folder`` holds nothing that can be graded, or ``None``.

    ``expected`` are the files the spec names (its questions' modules); ``answers.yaml`` and a
    write-up count too. An empty upload, or one without any of those files at its top level, is not gradable:
    its zero is not a grade for its work (PrairieLearn's ``gradable: false``).
    """
    entries = [entry for entry in folder.iterdir() if not entry.name.startswith(".")] if folder.is_dir() else []
    if not entries:
        return "the submission is empty"
    if not any((folder / name).is_file() for name in (*expected, ANSWERS_FILE)) and not writeups_in(folder):
        return (f"none of the files the spec names ({', '.join(expected)}, {ANSWERS_FILE}, or a write-up: "
                "*.md, *.tex) was handed in")
    return None
