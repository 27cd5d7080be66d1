"""Server-side charts as inline SVG: no JavaScript, no chart library, nothing fetched from the internet.

Every mark carries a shape or a dash pattern as well as a colour, and a ``data-role`` attribute, so the
charts read in greyscale and browser tests can find the band, the markers and the shaded windows.
Text that must stay readable on a phone (legends, values) lives in HTML next to the chart, not in it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from markupsafe import Markup

WIDTH = 760
HEIGHT = 300
MARGIN_LEFT = 64
MARGIN_RIGHT = 12
MARGIN_TOP = 22
MARGIN_BOTTOM = 28


@dataclass(frozen=True)
class Span:
    """A shaded time window (an expected change) or a bracketed one (an incident), with its label."""

    start: datetime
    end: datetime
    label: str
    href: str | None = None


@dataclass(frozen=True)
class SeriesData:
    """What the spend chart draws; lists are aligned on ``times`` (None where a value is unknown).

    ``lower`` and ``upper`` are the band: the detector's alarm boundary, beyond which it flags a period
    (None on a side where no value would be flagged: dips on a monitor of rising spend, a period in cold
    start). Where only ``upper`` is known the band reaches down to the chart's floor.
    """

    times: Sequence[datetime]
    actual: Sequence[float]
    expected: Sequence[float | None]
    lower: Sequence[float | None]
    upper: Sequence[float | None]
    anomaly: Sequence[bool]
    windows: Sequence[Span] = ()
    incidents: Sequence[Span] = ()


def money(value: float | None, currency: str = "", *, signed: bool = False) -> str:
    """``12,345 USD``; compact for axis ticks is ``short_money``."""
    if value is None or not math.isfinite(value):
        return "–"
    text = f"{value:+,.0f}" if signed else f"{value:,.0f}"
    return f"{text} {currency}".strip()


def short_money(value: float) -> str:
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:.1f}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.0f}k"
    if magnitude >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering [low, high]."""
    if not math.isfinite(low) or not math.isfinite(high) or high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks: list[float] = []
    value = first
    # The last tick is the first at or above ``high``, so the axis always covers the data.
    while True:
        ticks.append(round(value, 10))
        if value >= high - step * 1e-9:
            return ticks
        value += step


class _Frame:
    """Maps times and amounts to plot coordinates."""

    def __init__(self, times: Sequence[datetime], values: Sequence[float], width: int, height: int) -> None:
        self.t0 = times[0].timestamp()
        self.t1 = times[-1].timestamp() if len(times) > 1 else self.t0 + 1
        self.left, self.right = MARGIN_LEFT, width - MARGIN_RIGHT
        self.top_px, self.bottom_px = MARGIN_TOP, height - MARGIN_BOTTOM
        top = max(values, default=1.0) or 1.0
        bottom = min(values, default=0.0)
        # Zero-based unless the series never comes near zero: then a flat zero floor hides its shape.
        low = bottom * 0.9 if bottom > 0.4 * top else min(bottom, 0.0)
        self.ticks = nice_ticks(low, top if top > low else low + 1.0)
        self.ymin, self.ymax = self.ticks[0], self.ticks[-1]

    def x(self, t: datetime) -> float:
        share = (t.timestamp() - self.t0) / ((self.t1 - self.t0) or 1)
        return round(self.left + min(max(share, 0.0), 1.0) * (self.right - self.left), 1)

    def y(self, v: float) -> float:
        share = (v - self.ymin) / ((self.ymax - self.ymin) or 1.0)
        return round(self.bottom_px - min(max(share, -0.02), 1.02) * (self.bottom_px - self.top_px), 1)


def _or_floor(value: float | None, frame: _Frame) -> float:
    """A band's lower edge: its value, or the chart's floor where it has none."""
    return frame.ymin if value is None else float(value)


def _polyline(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{x},{y}" for x, y in points)


def _runs(values: Sequence[float | None]) -> list[list[int]]:
    """Indices grouped into runs without gaps, so a missing forecast breaks a line instead of lying."""
    runs: list[list[int]] = []
    current: list[int] = []
    for i, v in enumerate(values):
        if v is None or not math.isfinite(v):
            if current:
                runs.append(current)
            current = []
        else:
            current.append(i)
    if current:
        runs.append(current)
    return runs


def _axes(frame: _Frame, times: Sequence[datetime], width: int) -> list[str]:
    out = ['<g class="axes" aria-hidden="true">']
    for tick in frame.ticks:
        y = frame.y(tick)
        out.append(f'<line class="grid" x1="{frame.left}" x2="{frame.right}" y1="{y}" y2="{y}"/>')
        out.append(
            f'<text class="tick" x="{frame.left - 6}" y="{y + 4}" text-anchor="end">{short_money(tick)}</text>'
        )
    n = len(times)
    labels = max(2, min(7, width // 120))
    step = max(1, (n - 1) // (labels - 1)) if n > 1 else 1
    hourly = n > 1 and (times[1] - times[0]).total_seconds() < 86400
    for i in range(0, n, step):
        x = frame.x(times[i])
        text = times[i].strftime("%d %b %H:00" if hourly else "%d %b")
        # Labels near an edge hang inwards, so none is cut off by the chart's border.
        anchor = "start" if x < frame.left + 40 else ("end" if x > frame.right - 50 else "middle")
        out.append(
            f'<text class="tick" x="{x}" y="{frame.bottom_px + 18}" text-anchor="{anchor}">{text}</text>'
        )
    out.append(
        f'<line class="axis" x1="{frame.left}" x2="{frame.right}" y1="{frame.bottom_px}" y2="{frame.bottom_px}"/>'
    )
    out.append("</g>")
    return out


def _defs() -> str:
    # Hatching, not colour alone, tells an expected-change window from the band.
    return (
        "<defs>"
        '<pattern id="hatch" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<line x1="0" y1="0" x2="0" y2="8" class="hatch-line"/></pattern>'
        "</defs>"
    )


def _triangle(x: float, y: float, size: float = 7.0) -> str:
    return f"M{x},{y - size} L{x + size},{y + size * 0.8} L{x - size},{y + size * 0.8} Z"


def spend_chart(
    data: SeriesData, *, currency: str, title: str, width: int = WIDTH, height: int = HEIGHT
) -> Markup:
    """Actual spend (solid line, dots), expected (dashed) inside the band where the detector does not alarm
    (filled, dotted edges: its alarm boundary), anomalies (triangles), expected-change windows (hatched) and
    incident periods (brackets along the top)."""
    if not data.times:
        return Markup('<p class="empty">No spend in this window.</p>')
    values = [v for v in (*data.actual, *data.upper, *data.lower) if v is not None and math.isfinite(v)]
    frame = _Frame(data.times, values, width, height)
    times = data.times
    anomalies = sum(1 for a in data.anomaly if a)
    desc = (
        f"{len(times)} periods from {times[0]:%Y-%m-%d} to {times[-1]:%Y-%m-%d}; "
        f"{anomalies} anomalous; {len(data.windows)} expected-change windows; {len(data.incidents)} incidents."
    )
    out = [
        f'<svg class="chart spend-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="chart-title chart-desc" data-role="spend-chart">',
        f'<title id="chart-title">{escape(title)}</title><desc id="chart-desc">{escape(desc)}</desc>',
        _defs(),
    ]
    out += _axes(frame, times, width)
    half = (frame.x(times[1]) - frame.x(times[0])) / 2 if len(times) > 1 else 4.0
    for span in data.windows:
        x0, x1 = frame.x(span.start) - half, frame.x(span.end) - half
        x0, x1 = max(x0, frame.left), min(max(x1, x0 + 2), frame.right)
        # The label goes only where it fits inside the window; the page lists every window by name anyway.
        fits = int((x1 - x0 - 6) / 7)
        label = span.label if len(span.label) <= fits else span.label[: fits - 1] + "…"
        text = (
            f'<text class="window-label" x="{round(x0 + 3, 1)}" y="{frame.bottom_px - 6}">{escape(label)}</text>'
            if fits >= 4
            else ""
        )
        out.append(
            f'<g data-role="expected-change"><rect class="window" x="{x0}" y="{frame.top_px}" '
            f'width="{round(x1 - x0, 1)}" height="{frame.bottom_px - frame.top_px}">'
            f"<title>expected change: {escape(span.label)}</title></rect>{text}</g>"
        )
    for run in _runs(data.upper):
        upper = [(frame.x(times[i]), frame.y(float(data.upper[i] or 0.0))) for i in run]
        # Where dips never alarm there is no lower boundary: the band goes down to the floor of the chart.
        lower = [(frame.x(times[i]), frame.y(_or_floor(data.lower[i], frame))) for i in reversed(run)]
        out.append(f'<polygon class="band" data-role="band" points="{_polyline(upper + lower)}"/>')
        out.append(f'<polyline class="band-edge" data-role="alarm-upper" points="{_polyline(upper)}"/>')
        for low in _runs([data.lower[i] for i in run]):
            edge = [(frame.x(times[run[j]]), frame.y(float(data.lower[run[j]] or 0.0))) for j in low]
            out.append(f'<polyline class="band-edge" data-role="alarm-lower" points="{_polyline(edge)}"/>')
    for run in _runs(data.expected):
        pts = [(frame.x(times[i]), frame.y(float(data.expected[i] or 0.0))) for i in run]
        out.append(f'<polyline class="expected" data-role="expected" points="{_polyline(pts)}"/>')
    pts = [(frame.x(t), frame.y(v)) for t, v in zip(times, data.actual, strict=True)]
    out.append(f'<polyline class="actual" data-role="actual" points="{_polyline(pts)}"/>')
    if len(times) <= 120:
        # Dots only where they stay apart: on a dense hourly chart they would merge into a smear.
        out.append('<g class="dots" aria-hidden="true">')
        out += [f'<circle class="dot" cx="{x}" cy="{y}" r="2.5"/>' for x, y in pts]
        out.append("</g>")
    out.append('<g class="markers">')
    for t, v, flagged, (x, y) in zip(times, data.actual, data.anomaly, pts, strict=True):
        if flagged:
            out.append(
                f'<path class="marker" data-role="anomaly-marker" d="{_triangle(x, y - 10)}">'
                f"<title>anomaly {t:%Y-%m-%d %H:%M}: {escape(money(v, currency))}</title></path>"
            )
    out.append("</g>")
    for span in data.incidents:
        x0, x1 = frame.x(span.start) - half, frame.x(span.end) + half
        x0, x1 = max(x0, frame.left), min(max(x1, x0 + 4), frame.right)
        y = frame.top_px - 8
        bracket = (
            f'<path class="incident-span" d="M{x0},{y + 6} L{x0},{y} L{x1},{y} L{x1},{y + 6}">'
            f"<title>incident: {escape(span.label)}</title></path>"
        )
        if span.href:
            bracket = (
                f'<a href="{escape(span.href)}" aria-label="incident {escape(span.label)}">{bracket}</a>'
            )
        out.append(f'<g data-role="incident-span">{bracket}</g>')
    out.append("</svg>")
    return Markup("".join(out))


def parts_chart(
    times: Sequence[datetime],
    trend: Sequence[float | None],
    seasonal: Sequence[float | None],
    *,
    width: int = WIDTH,
    height: int = 200,
) -> Markup:
    """The model's trend (solid) and seasonal part (dashed, drawn around the trend's scale as an offset)."""
    vals = [v for v in (*trend, *seasonal) if v is not None and math.isfinite(v)]
    if not times or not vals:
        return Markup('<p class="empty">No model parts for this window.</p>')
    low, high = min(0.0, *vals), max(vals)
    ticks = nice_ticks(low, high if high > low else low + 1)
    left, right, top, bottom = MARGIN_LEFT, width - MARGIN_RIGHT, 10, height - MARGIN_BOTTOM
    t0, t1 = times[0].timestamp(), (times[-1].timestamp() if len(times) > 1 else times[0].timestamp() + 1)

    def x(t: datetime) -> float:
        return round(left + (t.timestamp() - t0) / ((t1 - t0) or 1) * (right - left), 1)

    def y(v: float) -> float:
        return round(bottom - (v - ticks[0]) / ((ticks[-1] - ticks[0]) or 1) * (bottom - top), 1)

    out = [
        f'<svg class="chart parts-chart" viewBox="0 0 {width} {height}" role="img" data-role="parts-chart" '
        'aria-label="Trend and seasonal parts of the expected spend">'
    ]
    for tick in ticks:
        out.append(
            f'<line class="grid{" zero" if tick == 0 else ""}" x1="{left}" x2="{right}" y1="{y(tick)}" y2="{y(tick)}"/>'
        )
        out.append(
            f'<text class="tick" x="{left - 6}" y="{y(tick) + 4}" text-anchor="end">{short_money(tick)}</text>'
        )
    for name, values in (("trend", trend), ("seasonal", seasonal)):
        for run in _runs(values):
            pts = [(x(times[i]), y(float(values[i] or 0.0))) for i in run]
            out.append(f'<polyline class="{name}" data-role="{name}" points="{_polyline(pts)}"/>')
    out.append(f'<text class="tick" x="{left}" y="{height - 8}">{times[0]:%d %b}</text>')
    out.append(f'<text class="tick" x="{right}" y="{height - 8}" text-anchor="end">{times[-1]:%d %b}</text>')
    out.append("</svg>")
    return Markup("".join(out))


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    note: str = ""
    # Stacked parts of the bar (e.g. ("usage", $), ("price", $)): drawn end to end, each by its size.
    parts: tuple[tuple[str, float], ...] = ()


def bar_chart(bars: Sequence[Bar], *, currency: str, title: str) -> Markup:
    """Horizontal bars in $, one row each: the label and the amount are text beside the bar, so the
    length is never the only cue and the labels wrap on a phone instead of shrinking with the chart."""
    if not bars:
        return Markup('<p class="empty">No root causes ranked for this incident.</p>')
    top = max(max(abs(b.value) for b in bars), 1e-9)
    out = [f'<figure class="bar-chart" data-role="bar-chart"><figcaption>{escape(title)}</figcaption><ol>']
    for bar in bars:
        length = round(max(abs(bar.value) / top * 100, 0.5), 2)
        cls = "bar" if bar.value >= 0 else "bar negative"
        amount = escape(money(bar.value, currency, signed=True))
        rects = f'<rect class="{cls}" x="0" y="0" width="{length}" height="10"/>'
        if bar.parts and sum(abs(v) for _, v in bar.parts) > 0:
            # Parts share the bar's length in proportion to their size; a negative part is hatched by class.
            rects, x, scale = "", 0.0, length / sum(abs(v) for _, v in bar.parts)
            for name, value in bar.parts:
                width = round(abs(value) * scale, 2)
                kind = f"bar part {escape(name)}" + (" negative" if value < 0 else "")
                rects += (
                    f'<rect class="{kind}" data-role="bar-{escape(name)}" x="{round(x, 2)}" y="0" '
                    f'width="{width}" height="10"><title>{escape(name)} '
                    f"{escape(money(value, currency, signed=True))}</title></rect>"
                )
                x += width
        out.append(
            f'<li class="bar-row" data-role="bar"><span class="bar-label">{escape(bar.label)}</span>'
            f'<svg class="bar-track" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">'
            f"{rects}</svg>"
            f'<span class="bar-value">{amount} <small>{escape(bar.note)}</small></span></li>'
        )
    out.append("</ol></figure>")
    return Markup("".join(out))


def sparkline(values: Sequence[float], *, label: str, width: int = 240, height: int = 48) -> Markup:
    """A small line of shares in [0, 1] (attribution coverage), with its last value as a dot."""
    if not values:
        return Markup("")
    low = min(min(values), 0.8)
    pts = [
        (
            round(4 + i / max(len(values) - 1, 1) * (width - 8), 1),
            round(height - 4 - (v - low) / ((1.0 - low) or 1) * (height - 8), 1),
        )
        for i, v in enumerate(values)
    ]
    x, y = pts[-1]
    return Markup(
        f'<svg class="sparkline" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'data-role="sparkline"><polyline class="actual" points="{_polyline(pts)}"/>'
        f'<circle class="dot" cx="{x}" cy="{y}" r="3"/></svg>'
    )
