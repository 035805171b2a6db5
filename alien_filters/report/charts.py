"""Charts as self-contained SVG data URIs, drawn without pyplot so a running WebUI's backend is untouched."""

from __future__ import annotations

import base64
import io
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

BAR_COLOUR = "#2e7d5b"
CLUSTER_COLOURS = ("#2e7d5b", "#b8860b", "#4169e1", "#c0392b", "#8e44ad", "#16a085", "#d35400", "#7f8c8d",
                   "#2c3e50", "#e84393")


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def to_data_uri(figure: Figure) -> str:
    """The figure as an SVG ``data:`` URI (text drawn as paths: no fonts needed to view it)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str, xlabel: str) -> str:
    """Horizontal bars, first label on top."""
    figure = _figure(7.0, max(1.6, 0.28 * len(labels) + 0.9))
    axes = figure.add_subplot()
    positions = np.arange(len(labels))
    axes.barh(positions, values, color=BAR_COLOUR)
    axes.set_yticks(positions, labels=list(labels))
    axes.invert_yaxis()
    axes.set_xlabel(xlabel)
    axes.set_title(title)
    for spine in ("top", "right"):
        axes.spines[spine].set_visible(False)
    return to_data_uri(figure)


def heatmap(labels: Sequence[str], matrix: Sequence[Sequence[float]], title: str) -> str:
    """A square matrix with its values written in the cells."""
    values = np.asarray(matrix, dtype=float).reshape(len(labels), len(labels))
    side = max(3.0, 0.42 * len(labels) + 2.0)
    figure = _figure(side + 1.0, side)
    axes = figure.add_subplot()
    image = axes.imshow(values, cmap="Greens")
    ticks = np.arange(len(labels))
    axes.set_xticks(ticks, labels=list(labels), rotation=60, ha="right")
    axes.set_yticks(ticks, labels=list(labels))
    high = values.max() if values.size else 0
    if len(labels) <= 25:
        for (row, col), value in np.ndenumerate(values):
            colour = "white" if high and value > 0.6 * high else "black"
            axes.text(col, row, f"{value:g}", ha="center", va="center", fontsize=7, color=colour)
    figure.colorbar(image, ax=axes, shrink=0.8, label="images")
    axes.set_title(title)
    return to_data_uri(figure)


def scatter(points: np.ndarray, labels: np.ndarray, title: str, max_points: int = 5000) -> str:
    """2-D points coloured by cluster (an even sample when there are more than ``max_points``)."""
    step = max(1, int(np.ceil(len(points) / max_points)))
    points, labels = points[::step], labels[::step]
    figure = _figure(6.0, 4.5)
    axes = figure.add_subplot()
    for cluster in np.unique(labels):
        chosen = labels == cluster
        axes.scatter(points[chosen, 0], points[chosen, 1], s=14, alpha=0.75,
                     color=CLUSTER_COLOURS[int(cluster) % len(CLUSTER_COLOURS)], label=f"cluster {int(cluster)}")
    if len(np.unique(labels)):
        axes.legend(loc="best", fontsize=8)
    axes.set_xlabel("component 1")
    axes.set_ylabel("component 2")
    axes.set_title(title)
    return to_data_uri(figure)


def line_chart(xs: Sequence[float], ys: Sequence[float], title: str, xlabel: str, ylabel: str) -> str:
    figure = _figure(5.0, 3.0)
    axes = figure.add_subplot()
    axes.plot(list(xs), list(ys), marker="o", color=BAR_COLOUR)
    axes.set_xticks(list(xs))
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    return to_data_uri(figure)
