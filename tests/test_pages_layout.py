"""Pages for phones and paper: headless Chromium opens the built pages at 390 px and 1400 px.

No page may scroll sideways as a whole (`scrollWidth <= innerWidth`): wide tables and the heat map
scroll inside their own box. A college's dashboard and warning report are rendered for print
(emulated print media at A4 width, and Page.printToPDF on A4). The browser plumbing is
tests/test_browser.py's; the pages are built by the real site assets and commands.
"""

from __future__ import annotations

import base64
import json
import re

import pytest

from assets.site import write_warning_reports
from dashboards.common import site_css
from pipelines.cli import main
from pipelines.public_site import build_public_site
from pipelines.settings import get_settings
from pipelines.sitebuild import site_build_path
from site_fixtures import fixture_warehouse, populate_province, write_fixture_site
from test_browser import CHROMIUM, chromium, navigate_and_wait_for_charts, open_page
from test_quality_reports import BAD, YEAR, materialize
from test_quality_reports import province as quality_province
from test_review import write_warehouse
from test_sampling import AS_OF
from test_sampling import province as sampling_province
from test_warnings import history

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's `chromium` is not installed")

WIDTHS = (390, 1400)
# A4 at CSS 96 dpi, less the 10 mm side margins of the stylesheet's @page: 210 mm - 20 mm.
A4_CONTENT_PX = round((210 - 20) / 25.4 * 96)
OVERFLOW_JS = "JSON.stringify([document.documentElement.scrollWidth, window.innerWidth])"


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, object]:
    """The kinds of page, each built the way production builds it (the public site from a fixture warehouse)."""
    home = tmp_path_factory.mktemp("pages-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZHENGAI_HOME", str(home))
        site = home / "site"
        codes = write_fixture_site(site)
        write_warning_reports(history({2023: 79, 2024: 79}).conn, home / "reports")
        quality_path = home / "work.duckdb"  # not quality.duckdb: the catalog would shadow the quality schema
        quality_province(quality_path)
        quality_site = site_build_path(materialize(home, quality_path).run_id)
        write_warehouse(*sampling_province(40))
        assert main(["sample", "--cycle-start", "2025", "--year", "2025", "--seed", "3", "--as-of", AS_OF]) == 0
        plan = get_settings().exports / "sampling" / "2025" / "plan.html"
        conn = fixture_warehouse()
        public_code = populate_province(conn, 2, [2024], seed=3, school_types=["理工"])[0]
        build_public_site(site, conn)
        conn.close()
    return {
        "public-rules": site / "public" / "rules.html",
        "public-college": site / "public" / "schools" / public_code / "index.html",
        "province": site / "province" / "index.html",
        "college": site / "schools" / codes[0] / "index.html",
        "warnings": home / "reports" / "schools" / "10001" / "warnings-2024.html",
        "quality": quality_site / "schools" / BAD / f"quality-{YEAR}.html",
        "plan": plan,
    }


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as port:
        yield port


def overflow(port: int, page, width: int, media: str = "screen", screenshot=None) -> tuple[int, int]:
    """(document scrollWidth, innerWidth) of `page` in a viewport `width` px wide, in `media`."""
    tools = open_page(port)
    try:
        tools.send("Page.enable")
        tools.send(
            "Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1, mobile=width < 600
        )
        tools.send("Emulation.setEmulatedMedia", media=media)
        navigate_and_wait_for_charts(tools, page.as_uri(), render_timeout=15)
        scroll_width, inner_width = json.loads(tools.evaluate(OVERFLOW_JS))
        if screenshot is not None:
            shot = tools.send("Page.captureScreenshot", format="png", captureBeyondViewport=False)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            print(f"screenshot: {screenshot}")
        return scroll_width, inner_width
    finally:
        tools.close()


def fits(width: int, scroll_width: int, inner_width: int) -> bool:
    """The page fits a `width` px screen: its viewport kept that width, its content no wider."""
    return inner_width == width and scroll_width <= inner_width


def print_to_pdf(port: int, page) -> bytes:
    tools = open_page(port)
    try:
        tools.send("Page.enable")
        navigate_and_wait_for_charts(tools, page.as_uri(), render_timeout=15)
        # A4 in inches; backgrounds printed, as the stylesheet asks (print-color-adjust: exact).
        pdf = tools.send("Page.printToPDF", paperWidth=8.27, paperHeight=11.69, printBackground=True)
        return base64.b64decode(pdf["data"])
    finally:
        tools.close()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(
    "kind", ["province", "college", "warnings", "quality", "plan", "public-rules", "public-college"]
)
def test_no_page_scrolls_sideways_as_a_whole(pages, browser, tmp_path, kind, width):
    screenshot = tmp_path / f"{kind}-{width}.png" if kind in ("province", "college") else None
    scroll_width, inner_width = overflow(browser, pages[kind], width, screenshot=screenshot)
    assert fits(width, scroll_width, inner_width), f"{kind} at {width} px: {scroll_width} px in {inner_width} px"


@pytest.mark.parametrize("kind", ["college", "warnings"])
def test_a_college_dashboard_and_warning_report_print_on_a4(pages, browser, kind):
    scroll_width, inner_width = overflow(browser, pages[kind], A4_CONTENT_PX, media="print")
    assert fits(A4_CONTENT_PX, scroll_width, inner_width), f"{kind} printed: {scroll_width} px in {inner_width} px"
    pdf = print_to_pdf(browser, pages[kind])
    assert pdf.startswith(b"%PDF") and re.search(rb"/Type\s*/Page[^s]", pdf)


def test_without_the_stylesheet_a_phone_scrolls_sideways(pages, browser, tmp_path):
    """The check can fail: the sampling plan (nowrap columns, a SHA-256) without the site stylesheet is
    wider than a phone (a mobile viewport then widens itself to the page, hence the inner width too)."""
    html = pages["plan"].read_text(encoding="utf-8")
    assert site_css() in html
    broken = tmp_path / "plan.html"
    broken.write_text(html.replace(site_css(), ""), encoding="utf-8")
    assert not fits(390, *overflow(browser, broken, 390))


def test_printing_keeps_the_level_colours_and_drops_the_navigation():
    css = site_css()
    print_rules = css[css.index("@media print") :]
    assert "print-color-adjust: exact" in print_rules
    assert "nav" in print_rules.split("display: none")[0].rsplit("}", 1)[-1]
    assert "size: A4" in css
