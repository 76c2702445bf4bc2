"""One self-contained HTML page of a dashboard: the widgets on CloudWatch's 24-column grid, the
metric widgets drawn by Plotly, whose JavaScript is embedded from the Python package (no CDN, no
request leaves the page). A widget that cannot be drawn shows its title and the reason.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from plotly.offline import get_plotlyjs

from sparkify_local.dashboard.data import Series, WidgetData, Window

GRID_ROW_PX = 32  # one unit of a widget's height; CloudWatch's grid is 24 units wide
_TIME = "%Y-%m-%d %H:%M:%S"
ALARM_COLOURS = {"OK": "#2e7d32", "ALARM": "#c62828", "INSUFFICIENT_DATA": "#757575"}

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; background: #f2f3f3; color: #16191f; }
header { padding: 10px 16px; background: #232f3e; color: #fff; }
header h1 { font-size: 18px; margin: 0 0 4px; }
header p { margin: 0; font-size: 12px; opacity: .85; }
main { display: grid; grid-template-columns: repeat(24, 1fr); grid-auto-rows: ROW_PXpx;
       gap: 8px; padding: 8px; }
.widget { background: #fff; border: 1px solid #d5dbdb; border-radius: 4px; overflow: auto;
          padding: 6px 10px; display: flex; flex-direction: column; min-width: 0; }
.widget h2 { font-size: 14px; margin: 0 0 4px; }
.chart { flex: 1; min-height: 0; }
.unsupported { color: #8a6d3b; background: #fcf8e3; padding: 6px; font-size: 13px; }
.empty { color: #757575; font-size: 12px; }
table { border-collapse: collapse; font-size: 12px; width: 100%; }
th, td { text-align: left; border-bottom: 1px solid #eaeded; padding: 3px 6px;
         vertical-align: top; }
.state { font-weight: 600; }
code { background: #f2f3f3; padding: 0 3px; }
.text p { font-size: 13px; margin: 4px 0; }
""".replace("ROW_PX", str(GRID_ROW_PX))

_DRAW = """
const figures = JSON.parse(document.getElementById("figures").textContent);
Promise.all(Object.entries(figures).map(([id, figure]) =>
  Plotly.newPlot(id, figure.data, figure.layout,
                 {displaylogo: false, responsive: true, modeBarButtonsToRemove: ["toImage"]})
)).then(() => { document.body.dataset.rendered = "true"; },
        (error) => { document.body.dataset.rendered = "error: " + error; });
"""


def render_page(
    widgets: list[WidgetData],
    window: Window,
    title: str,
    source: str,
    refresh_s: int | None = None,
) -> str:
    """The page's HTML. ``refresh_s``: the page reloads itself that often (``--watch``)."""
    figures: dict[str, Any] = {}
    sections = []
    for index, data in enumerate(widgets):
        body, figure = _widget_body(data, window, f"chart-{index}")
        if figure is not None:
            figures[f"chart-{index}"] = figure
        sections.append(_section(data, index, body))
    refresh = f'<meta http-equiv="refresh" content="{refresh_s}">' if refresh_s else ""
    # "</" would end the script element early; JSON allows the escaped slash.
    figures_json = json.dumps(figures).replace("</", "<\\/")
    span = f"{window.start:{_TIME}} to {window.end:{_TIME}} UTC"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            refresh,
            f"<title>{html.escape(title)}</title>",
            f"<style>{_STYLE}</style>",
            f"<script>{get_plotlyjs()}</script>",
            "</head><body>",
            f"<header><h1>{html.escape(title)}</h1>",
            f"<p>{html.escape(span)} &middot; {html.escape(source)}</p></header>",
            f'<main id="dashboard" data-widgets="{len(widgets)}">',
            *sections,
            "</main>",
            f'<script type="application/json" id="figures">{figures_json}</script>',
            f"<script>{_DRAW}</script>",
            "</body></html>",
        ]
    )


def _section(data: WidgetData, index: int, body: str) -> str:
    widget = data.widget
    x, y = int(widget.get("x", 0)), int(widget.get("y", 0))
    width, height = int(widget.get("width", 6)), int(widget.get("height", 6))
    style = f"grid-column: {x + 1} / span {width}; grid-row: {y + 1} / span {height};"
    title = "" if data.kind == "text" else f"<h2>{html.escape(data.title)}</h2>"
    return (
        f'<section class="widget" id="widget-{index}" data-type="{html.escape(data.kind)}" '
        f'data-title="{html.escape(data.title)}" style="{style}">{title}{body}</section>'
    )


def _widget_body(
    data: WidgetData, window: Window, chart_id: str
) -> tuple[str, dict[str, Any] | None]:
    if data.unsupported is not None:
        return f'<p class="unsupported">not drawn: {html.escape(data.unsupported)}</p>', None
    if data.kind == "text":
        return _markdown(str(data.widget["properties"].get("markdown", ""))), None
    if data.kind == "alarm":
        return _alarm_table(data), None
    if data.kind == "log":
        return _log_table(data), None
    properties = data.widget["properties"]
    if properties.get("view") == "singleValue":
        return _single_values(data.series), None
    empty = "" if any(s.values for s in data.series) else '<p class="empty">no data points</p>'
    return f'{empty}<div class="chart" id="{chart_id}"></div>', _figure(properties, data, window)


def _figure(properties: dict[str, Any], data: WidgetData, window: Window) -> dict[str, Any]:
    bar = properties.get("view") == "bar"
    stacked = bool(properties.get("stacked"))
    traces = []
    for series in data.series:
        # Plotly leaves a trace without points out of the legend; one empty point keeps every
        # line of the widget listed, as the console lists them.
        x = [f"{at:{_TIME}}" for at in series.timestamps] or [f"{window.end:{_TIME}}"]
        trace: dict[str, Any] = {
            "type": "bar" if bar else "scatter",
            "name": series.label,
            "x": x,
            "y": series.values or [None],
            "yaxis": "y2" if series.y_axis == "right" else "y",
            "showlegend": True,
        }
        if not bar:
            trace["mode"] = "lines+markers"
            if stacked:
                trace["stackgroup"] = series.y_axis
        traces.append(trace)
    layout: dict[str, Any] = {
        "autosize": True,
        "margin": {"l": 45, "r": 45, "t": 8, "b": 30},
        "showlegend": True,
        "legend": {"orientation": "h", "y": -0.2, "font": {"size": 10}},
        "xaxis": {
            "type": "date",
            "range": [f"{window.start:{_TIME}}", f"{window.end:{_TIME}}"],
            "tickformat": "%H:%M",  # the header gives the dates; a second tick row is clipped
        },
        "yaxis": {"rangemode": "tozero", "zeroline": True},
        "barmode": "stack" if stacked else "group",
    }
    if any(series.y_axis == "right" for series in data.series):
        layout["yaxis2"] = {"overlaying": "y", "side": "right", "rangemode": "tozero"}
    shapes, notes = [], []
    for line in properties.get("annotations", {}).get("horizontal", []):
        axis = "y2" if line.get("yAxis") == "right" else "y"
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": axis,
                "y0": line["value"],
                "y1": line["value"],
                "line": {"color": "#c62828", "dash": "dash", "width": 1},
            }
        )
        label = f"{line.get('label', '')} ({line['value']})"
        notes.append(
            {
                "xref": "paper",
                "x": 0,
                "yref": axis,
                "y": line["value"],
                "text": label,
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "bottom",
                "font": {"size": 10},
            }
        )
    if shapes:
        layout.update(shapes=shapes, annotations=notes)
    return {"data": traces, "layout": layout}


def _single_values(series: list[Series]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(s.label)}</th><td>{s.values[-1] if s.values else '-'}</td></tr>"
        for s in series
    )
    return f"<table>{cells}</table>"


def _alarm_table(data: WidgetData) -> str:
    rows = "".join(
        f'<tr data-alarm="{html.escape(alarm.name)}"><td>{html.escape(alarm.name)}</td>'
        f'<td class="state" style="color: {ALARM_COLOURS.get(alarm.state, "#8a6d3b")}">'
        f"{html.escape(alarm.state)}</td><td>{html.escape(alarm.reason)}</td></tr>"
        for alarm in data.alarms
    )
    return f"<table><tr><th>alarm</th><th>state</th><th>reason</th></tr>{rows}</table>"


def _log_table(data: WidgetData) -> str:
    head = "".join(f"<th>{html.escape(column)}</th>" for column in data.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(row.get(c, ''))}</td>" for c in data.columns) + "</tr>"
        for row in data.rows
    )
    empty = "" if data.rows else '<p class="empty">no rows</p>'
    return f"{empty}<table><tr>{head}</tr>{rows}</table>"


def _markdown(text: str) -> str:
    """The little Markdown text widgets use: headings, bold, italics, inline code,
    paragraphs. Everything is escaped first: the text can never add markup of its own."""
    parts = []
    for line in text.strip().splitlines():
        escaped = html.escape(line)
        escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
        escaped = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)
        escaped = re.sub(r"\*([^*]+)\*", r"<em>\1</em>", escaped)
        if heading := re.match(r"^(#{1,6}) (.*)$", escaped):
            parts.append(f"<h2>{heading.group(2)}</h2>")  # the widget's own heading size
        elif escaped.strip():
            parts.append(f"<p>{escaped}</p>")
    return '<div class="text">' + "".join(parts) + "</div>"
