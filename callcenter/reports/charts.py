"""Server-side inline SVG charts (no scripts, no CDN): horizontal bars and a daily line.

Labels are escaped; values are numbers we computed.  Each chart carries
``role="img"`` and a ``<title>`` so screen readers and tests can find it.
"""
from __future__ import annotations

from markupsafe import Markup, escape

WIDTH = 640
BAR = 22
LABEL_W = 180


def bar_chart(title: str, items: list[tuple[str, float | None]], *, percent: bool = False, css_id: str = "") -> Markup:
    """Horizontal bars, one per ``(label, value)``; ``None`` values draw no bar and show "—"."""
    values = [v for _, v in items if v is not None]
    top = 1.0 if percent else max(values + [1e-9])
    height = 30 + BAR * max(len(items), 1)
    parts = [f'<svg class="chart" id="{escape(css_id)}" role="img" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title>",
             f'<text x="0" y="16" font-size="14" font-weight="bold">{escape(title)}</text>']
    span = WIDTH - LABEL_W - 70
    for i, (label, value) in enumerate(items):
        y = 26 + i * BAR
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{escape(str(label)[:24])}</text>')
        if value is None:
            shown = "—"
        else:
            w = max(1.0, span * (value / top if top else 0))
            parts.append(f'<rect class="bar" x="{LABEL_W}" y="{y + 3}" width="{w:.1f}" height="{BAR - 6}" '
                         f'fill="#2f6fb0"/>')
            shown = f"{value * 100:.1f}%" if percent else f"{value:g}"
        parts.append(f'<text x="{WIDTH - 65}" y="{y + 15}" font-size="12">{escape(shown)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(title: str, labels: list[str], series: dict[str, list[int]], *, css_id: str = "") -> Markup:
    """Daily counts as polylines (one per series) over shared day labels."""
    height, left, bottom = 220, 40, 190
    colours = ("#c0392b", "#2f6fb0", "#27ae60", "#8e44ad", "#d68910")
    top = max([max(v) for v in series.values() if v] + [1])
    step = (WIDTH - left - 20) / max(len(labels) - 1, 1)
    parts = [f'<svg class="chart" id="{escape(css_id)}" role="img" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title>",
             f'<text x="0" y="16" font-size="14" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{left}" y1="{bottom}" x2="{WIDTH - 10}" y2="{bottom}" stroke="#888"/>',
             f'<text x="0" y="34" font-size="11">{top}</text>']
    for i, label in enumerate(labels):
        if i % max(1, len(labels) // 7) == 0:
            parts.append(f'<text x="{left + i * step:.1f}" y="{bottom + 16}" font-size="10">{escape(label)}</text>')
    for n, (name, values) in enumerate(series.items()):
        colour = colours[n % len(colours)]
        points = " ".join(f"{left + i * step:.1f},{bottom - (v / top) * (bottom - 40):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        parts.append(f'<text x="{WIDTH - 150}" y="{34 + n * 14}" font-size="11" fill="{colour}">'
                     f'{escape(str(name)[:24])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
