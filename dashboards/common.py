"""Page chrome shared by every HTML page of the site: levels, colours, CSS, escaping, plotly.

The report pages (early-warning and data-quality reports) may import from here too, so that
a level reads and looks the same everywhere. Pure functions, except `write_plotly_js`, which
copies the plotly.js bundled with the installed plotly package into the site: pages load it
from there, never from a CDN, so the site works offline.
"""

from __future__ import annotations

import functools
from html import escape
from pathlib import Path

import jinja2
import plotly
import plotly.graph_objects as go
import plotly.io as pio
from markupsafe import Markup

from pipelines.files import atomic_copy, atomic_write_text

# The one place that names and colours the warning levels: every page, chart and CSS class takes
# them from here (dashboards/warning_report.py included).
# no_indicator (无适用指标: the points cite tables, no indicator fits) and no_coverage (无数据覆盖: no
# table is cited) are not verdicts on data: pale, and never the grey of 数据不足 (data that failed).
LEVELS = ("red", "yellow", "green", "insufficient", "no_indicator", "no_coverage")
LEVEL_ZH = {
    "red": "红",
    "yellow": "黄",
    "green": "绿",
    "insufficient": "数据不足",
    "no_indicator": "无适用指标",
    "no_coverage": "无数据覆盖",
}
LEVEL_COLOURS = {
    "red": "#c0392b",
    "yellow": "#f1c40f",
    "green": "#27ae60",
    "insufficient": "#95a5a6",
    "no_indicator": "#d6e4f0",
    "no_coverage": "#f4f4f4",
}
LEVEL_TEXT_COLOURS = {
    "red": "#fff",
    "yellow": "#222",
    "green": "#fff",
    "insufficient": "#fff",
    "no_indicator": "#34495e",
    "no_coverage": "#666",
}
# Ordinal used for heat maps and sorting: worse is higher; the two non-verdicts below green.
LEVEL_SEVERITY = {"no_coverage": 0, "no_indicator": 1, "green": 2, "insufficient": 3, "yellow": 4, "red": 5}

TABLE_STATUS_ZH = {
    "ok": "正常",
    "warn": "有提醒",
    "partial": "部分行已排除",
    "invalid": "无效",
    "missing": "缺失",
    "stale": "过期",
    "optional_absent": "选填未报",
}
TABLE_STATUS_COLOURS = {
    "ok": "#27ae60",
    "warn": "#f39c12",
    "partial": "#e67e22",
    "invalid": "#c0392b",
    "missing": "#7f8c8d",
    "stale": "#8e44ad",
    "optional_absent": "#d5dbdb",
}

PLOTLY_JS_NAME = "plotly.min.js"
FONT_FAMILY = '"Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif'

NEUTRAL_GREY = "#7f8c8d"  # a value no table knows, and 无数据覆盖 on the data-quality pages

TEMPLATES = Path(__file__).resolve().parent / "templates"


@functools.cache
def templates() -> jinja2.Environment:
    """The page templates (dashboards/templates/), HTML-escaping every value unless marked safe."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.filters.update(dash=dash, num=number_text)
    environment.globals.update(
        LEVELS=LEVELS,
        LEVEL_ZH=LEVEL_ZH,
        level_badge=lambda level: Markup(level_badge(level)),
        level_legend=lambda: Markup(level_legend()),
    )
    return environment


@functools.cache
def site_css() -> str:
    """The one stylesheet of every site page (templates/site.css), level colours filled in from here."""
    return (
        templates()
        .get_template("site.css")
        .render(levels=LEVELS, colours=LEVEL_COLOURS, text_colours=LEVEL_TEXT_COLOURS)
    )


def dash(value: object) -> object:
    """A template value as it reads on a page: None as an em dash (escaped by the template, not here)."""
    return "—" if value is None else value


def text(value: object) -> str:
    """A value as HTML text; None reads as an em dash."""
    return "—" if value is None else escape(str(value), quote=False)


def attr(value: object) -> str:
    """A value safe inside a double-quoted HTML attribute."""
    return escape("" if value is None else str(value), quote=True)


def number_text(value: float | None, decimals: int = 2) -> str:
    """A figure rounded to `decimals`, trailing zeros dropped; None reads as an em dash."""
    if value is None:
        return "—"
    rounded = f"{value:.{max(decimals, 0)}f}"
    return rounded.rstrip("0").rstrip(".") if "." in rounded else rounded


def level_badge(level: str | None) -> str:
    level = level if level in LEVEL_ZH else "insufficient"
    return f'<span class="badge level-{level}">{LEVEL_ZH[level]}</span>'


def level_legend() -> str:
    return '<p class="legend">' + "".join(f"<span>{level_badge(level)}</span>" for level in LEVELS) + "</p>"


def figure_html(fig: go.Figure | dict, div_id: str) -> str:
    """A figure (or the plain dict of one, as `to_dict()` gives it) as a `<div>` for a page that loads plotly.js
    itself (never inlined, never from a CDN)."""
    # A plain dict skips plotly's second validation pass: 4× faster for the same output.
    return pio.to_html(
        fig if isinstance(fig, dict) else fig.to_dict(),
        include_plotlyjs=False,
        full_html=False,
        div_id=div_id,
        validate=False,
        config={"displayModeBar": False, "responsive": True},
    )


def base_layout(**overrides) -> dict:
    """A light layout without plotly's default template (which would add ~8 KB to every figure)."""
    layout = {
        "template": "none",
        "font": {"family": FONT_FAMILY, "size": 12},
        "margin": {"l": 50, "r": 10, "t": 40, "b": 40},
        "paper_bgcolor": "#fff",
        "plot_bgcolor": "#fff",
    }
    layout.update(overrides)
    return layout


def page_html(
    title: str, body: str, plotly_src: str | None = None, body_class: str | None = None, script: str | None = None
) -> str:
    """A complete Chinese page (templates/page.html) with the site stylesheet inlined; `body` and `script` are
    HTML/JavaScript already built, `plotly_src` is the relative path to the shipped plotly.min.js."""
    return (
        templates()
        .get_template("page.html")
        .render(
            title=title,
            css=Markup(site_css()),
            body=Markup(body),
            plotly_src=plotly_src,
            body_class=body_class,
            script=Markup(script) if script else None,
        )
    )


def render_page(
    template: str,
    title: str,
    plotly_src: str | None = None,
    body_class: str | None = None,
    script: str | None = None,
    **context: object,
) -> str:
    """A complete page from `template` (which extends templates/page.html and fills its `body` block): every
    value in `context` is HTML-escaped unless it is Markup (a plotly figure, a fragment built elsewhere)."""
    return (
        templates()
        .get_template(template)
        .render(
            title=title,
            css=Markup(site_css()),
            plotly_src=plotly_src,
            body_class=body_class,
            script=Markup(script) if script else None,
            **context,
        )
    )


def bundled_plotly_js() -> Path:
    """The plotly.min.js shipped inside the installed plotly package."""
    path = Path(plotly.__file__).resolve().parent / "package_data" / PLOTLY_JS_NAME
    if not path.is_file():
        raise FileNotFoundError(f"plotly.min.js not found in the installed plotly package at {path}")
    return path


def write_plotly_js(site: Path) -> Path:
    """Copy the bundled plotly.min.js to `site/assets/` (once; replaced when plotly is upgraded)."""
    source = bundled_plotly_js()
    target = site / "assets" / PLOTLY_JS_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    if not plotly_js_current(site):
        atomic_copy(source, target)
    return target


def plotly_js_current(site: Path) -> bool:
    """Whether `site/assets/` holds the bundled plotly.min.js (told by its size: a plotly upgrade changes it)."""
    target = site / "assets" / PLOTLY_JS_NAME
    return target.is_file() and target.stat().st_size == bundled_plotly_js().stat().st_size


def write_page(target: Path, html: str) -> int:
    """Write one page (UTF-8), creating its folder; returns its size in bytes.

    Atomic (pipelines/files.py): the page is replaced by a rename, never rewritten in place, since a
    site build shares its unchanged files with the published site as hard links (pipelines/sitebuild.py).
    Not flushed one by one: publish_site flushes the whole build before it is published."""
    return atomic_write_text(target, html, durable=False)


def remove_stale_pages(site: Path, pattern: str, written: set[Path]) -> int:
    """Delete pages matching `pattern` under `site` that this build did not write.

    A college or year that has left the data must not keep an outdated page online.
    """
    stale = [path for path in site.glob(pattern) if path not in written]
    for path in stale:
        path.unlink()
    return len(stale)
