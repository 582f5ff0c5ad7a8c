"""Adapters to where users work: GitHub Actions, Gradescope. Each module has one job.

``github`` writes a student repository's workflow and reports a grading step to GitHub;
``gradescope_bundle`` builds the autograder zip; ``autograder`` is what runs inside it; ``vendor``
is the harness's own source tree, dependencies pinned, which the workflow and the bundle install.
Like the CLI, they sit on top of ``harness.grading`` and ``harness.report`` and add no grading
logic.
"""

DISTRIBUTION = "derivgrade-harness"
"""The harness's distribution name, which no package index has: the name of the tree ``vendor``
ships into the bundle and a student repository."""
