"""Bar charts drawn on the server as inline SVG: no script, no chart library, nothing fetched.

A chart is horizontal grouped bars (one group per category, one bar per series), so long
Chinese labels stay readable and a phone shows it by scaling the `viewBox`. It is an image with
a `<title>` and a `<desc>` that reads out every number (screen readers), and each bar has its own
`<title>` (a tooltip); the page shows the same numbers as a table beside it.
"""

from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
LABEL_WIDTH = 170
VALUE_WIDTH = 70
BAR = 14
BAR_GAP = 2
GROUP_GAP = 10
LEGEND = 28
# Colours that stay distinct for the common colour-vision deficiencies (Okabe–Ito).
COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7")


@dataclass(frozen=True)
class Chart:
    """`series` maps a series name to one value per category, in the order of `categories`."""

    id: str
    title: str
    categories: list[str]
    series: dict[str, list[float]]
    unit: str = ""

    def number(self, value: float) -> str:
        text = f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value):,}"
        return f"{text}{self.unit}"

    def description(self) -> str:
        """Every number in words, for the chart's `<desc>`."""
        if not self.categories:
            return "没有数据。"
        parts = []
        for name, values in self.series.items():
            pairs = "，".join(f"{category} {self.number(value)}" for category, value in zip(self.categories, values, strict=True))
            parts.append(f"{name}：{pairs}")
        return "；".join(parts) + "。"

    def svg(self) -> Markup:
        """The chart as an inline `<svg>` element."""
        if not self.categories:
            return Markup(f'<p class="muted" id="{escape(self.id)}">没有数据。</p>')
        count = len(self.series)
        group = count * BAR + (count - 1) * BAR_GAP
        height = LEGEND + len(self.categories) * (group + GROUP_GAP)
        top = max((value for values in self.series.values() for value in values), default=0) or 1
        scale = (WIDTH - LABEL_WIDTH - VALUE_WIDTH) / top
        out = [
            f'<svg class="chart" id="{escape(self.id)}" role="img" aria-labelledby="{escape(self.id)}-title {escape(self.id)}-desc" '
            f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
            f'<title id="{escape(self.id)}-title">{escape(self.title)}</title>',
            f'<desc id="{escape(self.id)}-desc">{escape(self.description())}</desc>',
        ]
        x = LABEL_WIDTH
        for index, name in enumerate(self.series):
            colour = COLOURS[index % len(COLOURS)]
            out.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{colour}" aria-hidden="true"/>')
            out.append(f'<text x="{x + 16}" y="15" font-size="13" aria-hidden="true">{escape(name)}</text>')
            x += 24 + 14 * len(name)
        for row, category in enumerate(self.categories):
            y = LEGEND + row * (group + GROUP_GAP)
            out.append(f'<text x="{LABEL_WIDTH - 8}" y="{y + group / 2 + 5:.1f}" text-anchor="end" font-size="13" aria-hidden="true">'
                       f'{escape(category)}</text>')
            for index, (name, values) in enumerate(self.series.items()):
                value = values[row]
                bar_y = y + index * (BAR + BAR_GAP)
                width = max(value * scale, 0)
                colour = COLOURS[index % len(COLOURS)]
                out.append(f'<rect x="{LABEL_WIDTH}" y="{bar_y}" width="{width:.1f}" height="{BAR}" fill="{colour}">'
                           f'<title>{escape(category)} · {escape(name)}：{escape(self.number(value))}</title></rect>')
                out.append(f'<text x="{LABEL_WIDTH + width + 4:.1f}" y="{bar_y + BAR - 3}" font-size="12" aria-hidden="true">'
                           f'{escape(self.number(value))}</text>')
        out.append("</svg>")
        return Markup("".join(out))
