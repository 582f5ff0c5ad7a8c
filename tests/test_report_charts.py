"""The chart of the totals: binning, deterministic SVG, and a browser that really draws it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest

from harness.report.charts import bin_edges, count_ticks, histogram, totals_svg

ROOT = Path(__file__).resolve().parent.parent
BAR = (0x48, 0x78, 0xA8)  # the bars' colour, #4878a8


def test_up_to_ten_points_each_point_is_a_bin_and_the_top_score_falls_in_the_last():
    assert bin_edges(5) == [0, 1, 2, 3, 4, 5]
    assert histogram([0, 0.5, 4.99, 5, 5], 5) == [(0, 1, 2), (1, 2, 0), (2, 3, 0), (3, 4, 0), (4, 5, 3)]


def test_larger_or_fractional_maxima_get_ten_equal_bins():
    assert bin_edges(40) == [4.0 * index for index in range(11)]
    assert len(bin_edges(7.5)) == 11
    assert sum(count for _, _, count in histogram([0, 7.5, 3.75], 7.5)) == 3


def test_the_svg_is_the_same_bytes_for_the_same_totals():
    first = totals_svg([1, 2, 2, 5], 5, "Q2: totals")
    assert first.startswith("<svg") and "Q2: totals" in first
    assert totals_svg([1, 2, 2, 5], 5, "Q2: totals") == first
    assert totals_svg([1, 2, 2, 3], 5, "Q2: totals") != first


def test_the_svg_is_well_formed_with_a_bar_per_filled_bin_and_its_title_escaped():
    svg = totals_svg([0, 3, 3, 10, 10, 10], 10, "<Q2> & co")
    root = ElementTree.fromstring(svg)
    bars = [e for e in root.iter("{http://www.w3.org/2000/svg}rect") if e.get("fill") == "#4878a8"]
    assert len(bars) == 3  # bins 0-1, 3-4 and 9-10
    heights = sorted(float(bar.get("height")) for bar in bars)
    assert heights[2] == pytest.approx(3 * heights[0]) and heights[1] == pytest.approx(2 * heights[0])
    assert root.find("{http://www.w3.org/2000/svg}title").text == "<Q2> & co"


def test_count_ticks_are_whole_numbers_in_steps_of_one_two_or_five():
    assert count_ticks(0) == [0, 1] and count_ticks(5) == [0, 1, 2, 3, 4, 5]
    assert count_ticks(6) == [0, 2, 4, 6] and count_ticks(26) == [0, 10, 20, 30]
    assert count_ticks(250) == [0, 50, 100, 150, 200, 250]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.slow
def test_a_headless_browser_draws_the_chart_of_the_bundled_class(tmp_path):
    image = pytest.importorskip("PIL.Image", reason="reading the screenshots needs pillow (the test extra)")
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium to render the summary with (apt-get install chromium)")
    from harness.cli import main

    out = tmp_path / "reports"
    submissions = [ROOT / "submissions" / name for name in ("reference_solution", "sample_student", "broken_modules")]
    assert main(["grade", str(ROOT / "specs" / "q2_neural_networks.yaml"), *map(str, submissions),
                 "--out", str(out), "--examples", "3", "-q"]) == 0
    assert "![Distribution of the totals](totals.svg)" in (out / "summary.md").read_text()
    shots = {}
    for page in ("summary.html", "totals.svg"):
        shot = tmp_path / f"{page}.png"
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1000,900",
             (out / page).as_uri()],
            capture_output=True, timeout=120, check=True,
        )
        pixels = np.asarray(image.open(shot).convert("RGB")).astype(int)
        shots[page] = int(((abs(pixels - BAR)).max(axis=2) <= 2).sum())
    # Three submissions score 10, 9 and 0: three bars, each thousands of pixels in the bars' colour.
    assert shots["summary.html"] > 5000 and shots["totals.svg"] > 5000, shots
