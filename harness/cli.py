"""The ``harness`` command: argument parsing and exit codes only; the work is in the library.

Exit codes: 0 done (whatever the grades), 1 usage or spec error, 2 a score below
``--fail-under`` or a check-spec failure, 3 internal error, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from harness._version import __version__
from harness.errors import HarnessError, UsageError

EXIT_OK, EXIT_USER, EXIT_FAILED, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

DEFAULT_SPECS = Path("specs")
DEFAULT_SUBMISSIONS = Path("submissions")
DEFAULT_OUT = Path("reports")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit 2; a usage error is ours to report (exit 1)
        raise UsageError(f"{message}\n{self.format_usage().strip()}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description="Property-based grading of derivative homework.")
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    grade = commands.add_parser(
        "grade", help="grade submissions against specs",
        description="Grade submission folders against spec files. With no paths: specs/*.yaml and "
        "submissions/* of the current folder. A folder holding .py files (or answers.yaml) is one "
        "submission; any other folder is a folder of submissions.",
    )
    grade.add_argument("paths", nargs="*", type=Path, metavar="SPEC_OR_SUBMISSION")
    grade.add_argument("--out", "-o", type=Path, default=DEFAULT_OUT, help="report folder (default: reports)")
    grade.add_argument("--seed", type=int, help="override the specs' seed")
    grade.add_argument("--examples", type=_positive_int, help="override examples per item")
    grade.add_argument("--fail-under", type=_percent, metavar="PERCENT",
                       help="exit 2 if any submission scores below PERCENT of the maximum")
    grade.add_argument("--require-sandbox", action="store_true",
                       help="refuse to grade unless the bubblewrap sandbox can run")
    grade.add_argument("--quiet", "-q", action="store_true", help="no progress lines")

    check = commands.add_parser("check-spec", help="verify a spec's answer keys and claims",
                                description="Load specs, check every answer key and claim against "
                                "the reference, and scan the domains for overflow.")
    check.add_argument("specs", nargs="*", type=Path, metavar="SPEC")
    check.add_argument("--seed", type=int, help="override the specs' seed")
    check.add_argument("--examples", type=_positive_int, help="override examples per item")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def _percent(text: str) -> float:
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percentage like 80, got {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"expected a percentage from 0 to 100, got {text!r}")
    return value


def is_submission(folder: Path) -> bool:
    return any(folder.glob("*.py")) or (folder / "answers.yaml").exists()


def split_paths(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """Spec files and submission folders among the command's paths (defaults when none given)."""
    specs: list[Path] = []
    submissions: list[Path] = []
    for path in paths:
        if path.suffix in (".yaml", ".yml") and path.is_file():
            specs.append(path)
        elif path.is_dir():
            if is_submission(path):
                submissions.append(path)
            else:
                submissions.extend(sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")))
        else:
            raise UsageError(f"{str(path)!r} is neither a spec file (.yaml) nor a submission folder")
    if not specs:
        specs = sorted(DEFAULT_SPECS.glob("*.yaml"))
        if not specs:
            raise UsageError("no spec given and no specs/*.yaml here: pass one or more SPEC.yaml files")
    if not submissions and not any(p.is_dir() for p in paths):
        submissions = sorted(p for p in DEFAULT_SUBMISSIONS.glob("*") if p.is_dir() and not p.name.startswith("."))
    if not submissions:
        raise UsageError("no submissions: pass submission folders, or run where submissions/ has some")
    return specs, submissions


def _grade(args: argparse.Namespace) -> int:
    from harness.grade import GradeOptions, grade_all
    from harness.spec import load_spec

    specs, submissions = split_paths(args.paths)
    assignments = [load_spec(path) for path in specs]
    options = GradeOptions(seed=args.seed, examples=args.examples, require_sandbox=args.require_sandbox)
    chatty = not args.quiet and len(assignments) * len(submissions) > 1
    progress = (lambda line: print(line, file=sys.stderr, flush=True)) if chatty else None
    outcome = grade_all(assignments, submissions, args.out, options, progress)
    finished = [r for results in outcome.results.values() for r in results]
    for result in finished if not chatty else []:
        print(f"{result.submission}: {result.score:g}/{result.max_score:g}", file=sys.stderr)
    print(f"reports written to {args.out}", file=sys.stderr)
    if outcome.internal_errors:
        print(f"harness: the grader failed on {outcome.internal_errors} item(s); see above", file=sys.stderr)
        return EXIT_INTERNAL
    if outcome.interrupted:
        print(f"interrupted: kept the {len(finished)} finished reports", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.fail_under is not None:
        low = [r for r in finished if r.max_score and 100 * r.score / r.max_score < args.fail_under]
        if low:
            names = ", ".join(f"{r.submission} ({100 * r.score / r.max_score:.0f}%)" for r in low)
            print(f"below {args.fail_under:g}%: {names}", file=sys.stderr)
            return EXIT_FAILED
    return EXIT_OK


def _check_spec(args: argparse.Namespace) -> int:
    from harness.checkspec import check_spec, render_spec_report
    from harness.spec import load_spec

    specs = list(args.specs) or sorted(DEFAULT_SPECS.glob("*.yaml"))
    if not specs:
        raise UsageError("no spec given and no specs/*.yaml here: pass one or more SPEC.yaml files")
    status = EXIT_OK
    for path in specs:
        report = check_spec(load_spec(path), seed=args.seed, examples=args.examples)
        print(render_spec_report(report))
        if not report.ok:
            status = EXIT_FAILED
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        if args.command == "grade":
            return _grade(args)
        if args.command == "check-spec":
            return _check_spec(args)
        build_parser().print_help()
        return EXIT_OK
    except HarnessError as error:
        print(f"harness: error: {error}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:
        print("harness: internal error (please report it with the text below)", file=sys.stderr)
        traceback.print_exc()
        return EXIT_INTERNAL


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
