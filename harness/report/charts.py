"""Charts of a class's grades as SVG, drawn with matplotlib (the optional ``charts`` extra).

``totals_svg`` draws the distribution of the totals. It returns ``None`` when matplotlib is not
installed (``pip install 'derivgrade-harness[charts]'``): the class summary then shows only its
text histogram, which every report has. The SVG is the same bytes for the same data with the same
matplotlib version (no date, a fixed id salt); another matplotlib version may write it otherwise,
so no report text depends on it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

BINS = 10
"""The histogram's bars: the range 0 to the maximum in this many equal parts (fewer for small maxima)."""


def bin_edges(maximum: float) -> list[float]:
    """The histogram's bin edges from 0 to ``maximum``: one bin per point up to 10 points, else 10."""
    count = max(1, min(BINS, int(maximum) if float(maximum).is_integer() else BINS))
    return [maximum * index / count for index in range(count + 1)]


def histogram(totals: Sequence[float], maximum: float) -> list[tuple[float, float, int]]:
    """``(low, high, count)`` per bin; a bin holds ``low <= total < high``, the last one its top too."""
    edges = bin_edges(maximum)
    counts = [0] * (len(edges) - 1)
    for total in totals:
        index = next((i for i in range(len(counts)) if total < edges[i + 1]), len(counts) - 1)
        counts[max(index, 0)] += 1
    return [(edges[i], edges[i + 1], counts[i]) for i in range(len(counts))]


def totals_svg(totals: Sequence[float], maximum: float, title: str) -> str | None:
    """An SVG histogram of the totals, or ``None`` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure
    except ImportError:
        return None
    bins = histogram(totals, maximum)
    with matplotlib.rc_context({"svg.hashsalt": "derivgrade", "svg.fonttype": "none"}):
        figure = Figure(figsize=(6.4, 3.2))
        axes = figure.add_subplot()
        lows = [low for low, _, _ in bins]
        widths = [high - low for low, high, _ in bins]
        axes.bar(lows, [count for _, _, count in bins], width=widths, align="edge",
                 color="#4878a8", edgecolor="white")
        axes.set_xlim(0, maximum or 1)
        axes.set_xlabel("total points")
        axes.set_ylabel("submissions")
        axes.set_title(title)
        axes.yaxis.get_major_locator().set_params(integer=True)
        figure.tight_layout()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return buffer.getvalue()
