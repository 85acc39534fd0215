"""Small line charts as server-rendered SVG, each with its numbers beside it.

Why SVG from the server and no chart library: the page must read without JavaScript, under
a CSP that allows no third-party script, and print. Why a table with every chart: a chart is
a picture for the sighted reader's first glance; the pharmacist checks the numbers, and a
screen reader reads the same numbers (the SVG is ``role="img"`` named by its ``<title>``
and described by a ``<desc>`` sentence). No data gives a sentence, never an empty frame.

Every text that reaches the markup (a drug name, a citation, a date label) is escaped here;
the result is :class:`markupsafe.Markup` so the autoescaping template inserts it as is.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from ..units import format_number

WIDTH, HEIGHT = 320, 160
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 12, 26  # room for the y labels, the x labels and the limit text


@dataclass(frozen=True)
class Point:
    label: str  # what the x axis says: a date, or a course
    value: float


@dataclass(frozen=True)
class Limit:
    """A horizontal line across the chart: a limit from the data files, named with its value."""

    label: str
    value: float


@dataclass(frozen=True)
class Chart:
    ident: str  # unique on the page: the ids of the title and description derive from it
    name: str  # what is shown, as the title says it: "Platelets"
    unit: str
    points: tuple[Point, ...]
    limits: tuple[Limit, ...] = ()
    empty: str = ""  # the sentence shown when there are no points
    decimals: int = 4  # as many as the values mean: a sum of per-m² doses is not exact to 0.0001


def y_top(chart: Chart) -> float:
    """The value at the top of the plot: a little above the largest value or limit (0 at the bottom)."""
    largest = max([p.value for p in chart.points] + [lim.value for lim in chart.limits] + [0.0])
    return largest * 1.1 if largest > 0 else 1.0


def coordinates(chart: Chart) -> list[tuple[float, float]]:
    """Each point's (x, y) in the viewBox: evenly spaced left to right (one point: centred), y
    from 0 at the bottom of the plot to :func:`y_top` at its top."""
    width = WIDTH - LEFT - RIGHT
    count = len(chart.points)
    top = y_top(chart)
    found = []
    for i, point in enumerate(chart.points):
        x = LEFT + (width / 2 if count == 1 else width * i / (count - 1))
        found.append((round(x, 1), round(y_of(point.value, top), 1)))
    return found


def y_of(value: float, top: float) -> float:
    height = HEIGHT - TOP - BOTTOM
    return TOP + height * (1 - value / top)


def description(chart: Chart) -> str:
    """The chart in one sentence: how many values, the first and the last, and the limits."""
    first, last = chart.points[0], chart.points[-1]
    text = f"{len(chart.points)} value{'s' if len(chart.points) > 1 else ''}"
    text += f": {format_number(first.value, chart.decimals)} {chart.unit} ({first.label})"
    if len(chart.points) > 1:
        text += f" to {format_number(last.value, chart.decimals)} {chart.unit} ({last.label})"
    for limit in chart.limits:
        text += f"; {limit.label}: {format_number(limit.value, chart.decimals)} {chart.unit}"
    return text + "."


def svg(chart: Chart) -> Markup:
    """The chart as an ``<svg role="img">`` scaling to its container (viewBox, no fixed size)."""
    e = escape
    title_id, desc_id = f"{chart.ident}-title", f"{chart.ident}-desc"
    top = y_top(chart)
    points = coordinates(chart)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{e(title_id)}" aria-describedby="{e(desc_id)}" focusable="false">',
        f'<title id="{e(title_id)}">{e(chart.name)} ({e(chart.unit)})</title>',
        f'<desc id="{e(desc_id)}">{e(description(chart))}</desc>',
        f'<line class="axis" x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" '
        'stroke="#555"/>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="#555"/>',
        f'<text x="{LEFT - 4}" y="{HEIGHT - BOTTOM}" text-anchor="end" font-size="10">0</text>',
        f'<text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end" font-size="10">{e(format_number(top, 2))}</text>',
    ]
    for limit in chart.limits:
        y = round(y_of(limit.value, top), 1)
        parts.append(
            f'<line class="limit" x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}" stroke="#b00020" '
            'stroke-dasharray="4 3"/>'
        )
        parts.append(
            f'<text x="{WIDTH - RIGHT}" y="{y - 3}" text-anchor="end" font-size="10" fill="#b00020">'
            f"{e(limit.label)} {e(format_number(limit.value))}</text>"
        )
    if len(points) > 1:
        path = " ".join(f"{x},{y}" for x, y in points)
        parts.append(f'<polyline class="series" points="{path}" fill="none" stroke="#1f4e79" stroke-width="2"/>')
    parts += [f'<circle cx="{x}" cy="{y}" r="3" fill="#1f4e79"/>' for x, y in points]
    first, last = points[0][0], points[-1][0]
    anchor = "middle" if len(points) == 1 else "start"
    parts.append(
        f'<text x="{first}" y="{HEIGHT - 8}" text-anchor="{anchor}" font-size="10">{e(chart.points[0].label)}</text>'
    )
    if len(points) > 1:
        parts.append(
            f'<text x="{last}" y="{HEIGHT - 8}" text-anchor="end" font-size="10">{e(chart.points[-1].label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def figure(chart: Chart) -> Markup:
    """The chart and a table of its values; with no values, the chart's ``empty`` sentence."""
    e = escape
    if not chart.points:
        return Markup(f'<p class="empty">{e(chart.empty or f"No {chart.name} recorded.")}</p>')
    rows = "".join(
        f'<tr><th scope="row">{e(p.label)}</th>'
        f'<td class="num">{e(format_number(p.value, chart.decimals))} {e(chart.unit)}</td></tr>'
        for p in chart.points
    )
    table = (
        f'<table class="list values"><caption>{e(chart.name)}: values</caption>'
        f'<thead><tr><th scope="col">When</th><th scope="col">{e(chart.name)}</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )
    return Markup(f'<figure class="trend">{svg(chart)}{table}</figure>')
