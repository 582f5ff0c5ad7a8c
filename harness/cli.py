"""The ``harness`` command: argument parsing and exit codes only; the work is in the library.

Exit codes: 0 done (whatever the grades), 1 usage or spec error, 2 a score below
``--fail-under`` or a check-spec failure, 3 internal error, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import harness
from harness import HarnessError, InternalError, UsageError, find_config

EXIT_OK, EXIT_USER, EXIT_FAILED, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

DEFAULT_OUT = Path("reports")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit 2; a usage error is ours to report (exit 1)
        raise UsageError(f"{message}\n{self.format_usage().strip()}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description="Property-based grading of derivative homework.")
    parser.add_argument("--version", action="version", version=f"harness {harness.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    grade = commands.add_parser(
        "grade", help="grade submissions against specs",
        description="Grade submission folders against spec files. With no paths: specs/*.yaml and "
        "submissions/* of the current folder. A folder holding .py files (or answers.yaml) is one "
        "submission; any other folder is a folder of submissions.",
    )
    grade.add_argument("paths", nargs="*", type=Path, metavar="SPEC_OR_SUBMISSION")
    grade.add_argument("--out", "-o", type=Path, help="report folder (default: reports)")
    _add_input_options(grade)
    grade.add_argument("--fail-under", type=_percent, metavar="PERCENT",
                       help="exit 2 if any submission scores below PERCENT of the maximum")
    _add_isolation_options(grade)
    grade.add_argument("--quiet", "-q", action="store_true", help="print only errors and the final line")
    grade.add_argument("--junit", type=Path, metavar="FILE", help="also write a JUnit XML report to FILE")
    grade.add_argument("--github", action="store_true",
                       help="in GitHub Actions: write the job summary and annotate failing lines")
    _add_speed_options(grade)

    check = commands.add_parser("check-spec", help="verify a spec's answer keys and claims",
                                description="Load specs, check every answer key and claim against "
                                "the reference, and scan the domains for overflow.")
    check.add_argument("specs", nargs="*", type=Path, metavar="SPEC")
    _add_input_options(check)
    _add_speed_options(check)

    lock = commands.add_parser(
        "lock", help="lock the drawn inputs of specs, whatever library versions grade them",
        description="Draw each spec's survey inputs and claims' evidence now and write them to SPEC.lock.json "
        "beside the spec. Grading uses a lock made for the same spec and settings instead of drawing, and "
        "shrinks failures without Hypothesis, so every machine grades on the same inputs.",
    )
    lock.add_argument("specs", nargs="*", type=Path, metavar="SPEC")
    _add_input_options(lock)

    cache = commands.add_parser(
        "cache", help="show, clear or warm the reference cache",
        description="The reference cache keeps true values and drawn inputs between runs, in "
        "$HARNESS_CACHE_DIR, else $XDG_CACHE_HOME/harness, else ~/.cache/harness.",
    )
    actions = cache.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser, required=True)
    for name, help_text in (("info", "show what the cache holds"), ("clear", "remove every entry")):
        _add_cache_dir(actions.add_parser(name, help=help_text, description=help_text), "the cache folder")
    warm = actions.add_parser(
        "warm", help="compute what grading the specs needs first",
        description="Compute (or read back) every reference, survey input and claim that grading the "
        "specs needs, so that every submission is graded warm. Unlike check-spec, it does not check "
        "the answer keys.",
    )
    warm.add_argument("specs", nargs="*", type=Path, metavar="SPEC")
    _add_cache_dir(warm, "the cache folder")
    _add_input_options(warm)
    _add_jobs(warm)

    init_ci = commands.add_parser(
        "init-ci", help="write a CI workflow for a student repository",
        description="Write .github/workflows/harness.yml (and vendor this harness into .harness/): on "
        "every push, install the harness with its dependencies pinned to this run's versions, grade "
        "the repository as its [tool.harness] says, publish the report as the job summary and "
        "annotations, upload it as an artifact, and fail below --fail-under.",
    )
    init_ci.add_argument("provider", choices=["github"])
    init_ci.add_argument("--install", metavar="SOURCE",
                         help="what pip installs instead of the harness vendored into .harness/ (the "
                         "default): a git URL such as git+https://github.com/OWNER/REPO@TAG, or a wheel "
                         "path inside the repository")
    init_ci.add_argument("--python", metavar="VERSION",
                         help="Python version of the job (default: this Python's, which the pinned "
                         "dependencies install on)")
    init_ci.add_argument("--fail-under", type=_percent, metavar="PERCENT",
                         help="fail the job when the score is below PERCENT of the maximum")
    init_ci.add_argument("--repo", type=Path, default=Path("."), help="the repository (default: here)")
    init_ci.add_argument("--force", action="store_true", help="overwrite an existing workflow")

    bundle = commands.add_parser(
        "gradescope", help="build a Gradescope autograder zip",
        description="Build a Gradescope autograder bundle grading against the specs, the harness "
        "itself included; seed, examples and --require-sandbox are fixed into it.",
    )
    bundle.add_argument("specs", nargs="*", type=Path, metavar="SPEC")
    bundle.add_argument("--output", "-o", type=Path, default=Path("autograder.zip"),
                        help="the zip to write (default: autograder.zip)")
    _add_grading_options(bundle)

    autograde = commands.add_parser(
        "autograde", help="grade a Gradescope submission (what run_autograder runs)",
        description="Grade ROOT/submission against the specs and always write "
        "ROOT/results/results.json, also when grading fails.",
    )
    autograde.add_argument("specs", nargs="+", type=Path, metavar="SPEC")
    autograde.add_argument("--root", type=Path, default=Path("/autograder"),
                           help="Gradescope's folder (default: /autograder)")
    autograde.add_argument("--cache-dir", type=Path, metavar="DIR",
                           help="the reference cache setup.sh warmed (default: none, references are computed)")
    _add_grading_options(autograde)
    return parser


def _add_speed_options(parser: argparse.ArgumentParser) -> None:
    _add_jobs(parser)
    _add_cache_dir(parser, "reference cache folder")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor keep a reference cache")


def _add_jobs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", "-j", type=_positive_int, metavar="N",
                        help="processes (default: the number of CPUs); the reports do not depend on it")


def _add_cache_dir(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help=f"{what} (default: $HARNESS_CACHE_DIR, else $XDG_CACHE_HOME/harness)")


def _add_input_options(parser: argparse.ArgumentParser) -> None:
    """The options that decide which inputs are drawn."""
    parser.add_argument("--seed", type=int, help="override the specs' seed")
    parser.add_argument("--examples", type=_positive_int, help="override examples per item")


def _jobs(args: argparse.Namespace) -> int:
    return args.jobs or os.cpu_count() or 1


def _cache_dir(args: argparse.Namespace) -> Path | None:
    """The persistent cache folder the command asked for, or None for --no-cache."""
    if getattr(args, "no_cache", False):
        if args.cache_dir is not None:
            raise UsageError("--cache-dir and --no-cache contradict each other; give one of them")
        return None
    return args.cache_dir or harness.default_cache_dir()


def _add_grading_options(parser: argparse.ArgumentParser) -> None:
    _add_input_options(parser)
    _add_isolation_options(parser)


def _add_isolation_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--require-sandbox", action="store_true", default=None,
                        help="refuse to grade unless submissions run in their own namespaces "
                        "(bubblewrap or the harness's own)")
    parser.add_argument("--isolation", choices=harness.ISOLATION_CHOICES, default=None,
                        help="the isolation mode: auto (default: the strongest that runs here), or exactly "
                        "bubblewrap, namespaces, uid or none (an error where it cannot run)")
    parser.add_argument("--trusted-code", action="store_true", default=None,
                        help="the submissions are your own: grade them even where they cannot be isolated "
                        "(every report says so)")


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


def _grade(args: argparse.Namespace) -> int:
    config = find_config(Path.cwd()).override(
        out=args.out, seed=args.seed, examples=args.examples, fail_under=args.fail_under,
        require_sandbox=args.require_sandbox, junit=args.junit, isolation=args.isolation,
        trusted_code=args.trusted_code,
    )
    if (config.isolation or "auto") != "bubblewrap":
        # The worker templates load numpy on the other core while the grader imports its modules:
        # one for this process, and a spare for each other grading process when there may be a pool.
        harness.prestart_workers(min(_jobs(args), max(1, len(args.paths) - 1)))
    specs, submissions = harness.split_paths(args.paths, config)
    assignments = [harness.load_spec(path) for path in specs]
    out = config.out or DEFAULT_OUT
    options = harness.GradeOptions(seed=config.seed, examples=config.examples, require_sandbox=bool(config.require_sandbox),
                                   isolation=config.isolation or "auto", trusted_code=bool(config.trusted_code),
                                   jobs=_jobs(args), cache_dir=_cache_dir(args))
    chatty = not args.quiet and len(assignments) * len(submissions) > 1
    progress = harness.ProgressPrinter(sys.stderr) if chatty else None
    try:
        outcome = harness.grade_all(assignments, submissions, out, options, progress)
    finally:
        if progress is not None:
            progress.close()
    finished = [r for results in outcome.results.values() for r in results]
    for result in finished if not chatty and not args.quiet else []:
        print(f"{result.submission}: {result.score:g}/{result.max_score:g}", file=sys.stderr)
    for spec, names in outcome.skipped.items():
        if not args.quiet:
            print(f"not graded against {Path(spec).name} (they answer another spec of this run): "
                  f"{', '.join(names)}", file=sys.stderr)
    print(f"reports written to {out}", file=sys.stderr)
    if config.junit is not None:
        harness.write_atomically(config.junit, harness.render_junit(finished))
    if args.github:
        from harness.integrations import github

        github.publish(assignments, outcome.results, submissions)
    if outcome.internal_errors:
        print(f"harness: the grader failed on {outcome.internal_errors} item(s); see above", file=sys.stderr)
        return EXIT_INTERNAL
    if outcome.interrupted:
        print(f"interrupted: kept the {len(finished)} finished reports", file=sys.stderr)
        return EXIT_INTERRUPTED
    if config.fail_under is not None:
        low = [r for r in finished if r.max_score and 100 * r.score / r.max_score < config.fail_under]
        if low:
            names = ", ".join(f"{r.submission} ({100 * r.score / r.max_score:.0f}%)" for r in low)
            print(f"below {config.fail_under:g}%: {names}", file=sys.stderr)
            return EXIT_FAILED
    return EXIT_OK


def _check_spec(args: argparse.Namespace) -> int:
    config = find_config(Path.cwd()).override(seed=args.seed, examples=args.examples)
    cache_dir = _cache_dir(args)
    status = EXIT_OK
    assignments = []
    for path in harness.spec_paths(args.specs, config):
        assignments.append(harness.load_spec(path))
        report = harness.check_spec(assignments[-1], seed=config.seed, examples=config.examples, cache_dir=cache_dir)
        print(harness.render_spec_report(report))
        if not report.ok:
            status = EXIT_FAILED
    if status == EXIT_OK and cache_dir is not None:  # so the first grading run finds its references
        options = harness.GradeOptions(seed=config.seed, examples=config.examples, jobs=_jobs(args),
                                       cache_dir=cache_dir)
        harness.warm_cache(assignments, options)
    return status


def _lock(args: argparse.Namespace) -> int:
    config = find_config(Path.cwd()).override(seed=args.seed, examples=args.examples)
    for path in harness.spec_paths(args.specs, config):
        written = harness.write_lock(harness.load_spec(path), seed=config.seed, examples=config.examples)
        print(f"wrote {written}", file=sys.stderr)
    return EXIT_OK


def _cache(args: argparse.Namespace) -> int:
    if args.action == "warm":
        config = find_config(Path.cwd()).override(seed=args.seed, examples=args.examples)
        assignments = [harness.load_spec(path) for path in harness.spec_paths(args.specs, config)]
        options = harness.GradeOptions(seed=config.seed, examples=config.examples, jobs=_jobs(args),
                                       cache_dir=_cache_dir(args))
        harness.warm_cache(assignments, options)
    cache = harness.ReferenceCache(_cache_dir(args))
    info = cache.clear() if args.action == "clear" else cache.info()
    verb = "removed" if args.action == "clear" else "holds"
    print(f"{info.directory} {verb} {info.entries} entries ({harness.format_bytes(info.bytes)}, "
          f"{harness.format_bytes(info.disk)} on disk)")
    return EXIT_OK


def _init_ci(args: argparse.Namespace) -> int:
    from harness.integrations import github

    paths, warnings = github.init_workflow(args.repo, install=args.install, python=args.python,
                                           fail_under=args.fail_under, force=args.force)
    for warning in warnings:
        print(f"harness: warning: {warning}", file=sys.stderr)
    for path in paths:
        print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK


def _gradescope(args: argparse.Namespace) -> int:
    from harness.integrations.gradescope_bundle import build_bundle

    config = find_config(Path.cwd()).override(seed=args.seed, examples=args.examples,
                                              require_sandbox=args.require_sandbox, isolation=args.isolation,
                                              trusted_code=args.trusted_code)
    options = harness.GradeOptions(seed=config.seed, examples=config.examples,
                                   require_sandbox=bool(config.require_sandbox),
                                   isolation=config.isolation or "auto", trusted_code=bool(config.trusted_code))
    names = build_bundle(harness.spec_paths(args.specs, config), args.output, options)
    print(f"wrote {args.output} ({len(names)} files)", file=sys.stderr)
    return EXIT_OK


def _autograde(args: argparse.Namespace) -> int:
    from harness.integrations.autograder import autograde

    options = harness.GradeOptions(seed=args.seed, examples=args.examples, require_sandbox=bool(args.require_sandbox),
                                   isolation=args.isolation or "auto", trusted_code=bool(args.trusted_code),
                                   cache_dir=args.cache_dir)
    autograde(args.root, args.specs, options)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        if args.command == "grade":
            return _grade(args)
        if args.command == "check-spec":
            return _check_spec(args)
        if args.command == "cache":
            return _cache(args)
        if args.command == "lock":
            return _lock(args)
        if args.command == "init-ci":
            return _init_ci(args)
        if args.command == "gradescope":
            return _gradescope(args)
        if args.command == "autograde":
            return _autograde(args)
        build_parser().print_help()
        return EXIT_OK
    except InternalError as error:  # the harness's own fault, not the user's
        print(f"harness: internal error: {error}", file=sys.stderr)
        return EXIT_INTERNAL
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
