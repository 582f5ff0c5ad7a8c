"""Adapters to where users work: GitHub Actions, Gradescope. Each module has one job.

``github`` writes a student repository's workflow and reports a grading step to GitHub;
``gradescope_bundle`` builds the autograder zip; ``autograder`` is what runs inside it. Like the
CLI, they sit on top of ``harness.grading`` and ``harness.report`` and add no grading logic.
"""

DISTRIBUTION = "derivgrade-harness"
"""The harness's name on a package index: what the workflow installs, what the bundle ships."""
