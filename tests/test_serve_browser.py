"""Headless Chromium opens the dashboards through `zhengai serve`, under its Content-Security-Policy.

The site is built from the fixture province, served by a real uvicorn on 127.0.0.1 with a
secretariat token; the browser follows the personal link (cookie session), then opens a college
dashboard and the province overview. Every chart must render, and the console must hold no error,
no CSP violation and no warning from plotly.js about a refused style rule. Network traffic other
than loopback goes to a dead proxy.
"""

from __future__ import annotations

import json

import pytest

from assets.site import load_site_inputs, write_college_dashboards, write_province_overview
from dashboards.common import write_plotly_js
from pipelines.tokens import issue_token
from serve_fixtures import served
from site_fixtures import fixture_warehouse, populate_province
from test_browser import CHROMIUM, DevTools, chromium, navigate_and_wait_for_charts, open_page

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's `chromium` is not installed")


@pytest.fixture(scope="module")
def site_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("served")
    conn = fixture_warehouse()
    codes = populate_province(conn, 6, [2023, 2024], seed=4, school_types=["理工"])
    inputs = load_site_inputs(conn)
    write_plotly_js(home / "site")
    write_college_dashboards(inputs, home / "site")
    write_province_overview(inputs, home / "site")
    conn.close()
    _, token = issue_token("secretariat", home / "tokens.json")
    with served(home) as (_, port):
        yield {"port": port, "token": token, "codes": codes}


@pytest.fixture(scope="module")
def loopback_browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-profile"), reach_loopback=True) as port:
        yield port


def visit(tools: DevTools, url: str) -> tuple[list[dict], list[str]]:
    """Open `url`, wait for every chart; (chart states, console errors, CSP reports and plotly warnings)."""
    tools.events.clear()
    charts = navigate_and_wait_for_charts(tools, url)
    tools.evaluate("1")  # drain events that arrived while rendering
    problems = []
    for event in tools.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            problems.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
            problems.append(json.dumps(params.get("args"), ensure_ascii=False))
        elif (
            method == "Log.entryAdded"
            and params["entry"].get("level") in ("error", "warning")
            and not (
                params["entry"].get("url", "").endswith("/favicon.ico")  # the browser's own request, not the page's
            )
        ):
            problems.append(params["entry"].get("text", ""))
    return charts, problems


def test_pages_render_under_the_content_security_policy(site_server, loopback_browser):
    base = f"http://127.0.0.1:{site_server['port']}"
    tools = open_page(loopback_browser)
    try:
        for domain in ("Page", "Runtime", "Log"):
            tools.send(f"{domain}.enable")
        for path in (f"/schools/{site_server['codes'][0]}/", "/province/"):
            charts, problems = visit(tools, f"{base}{path}?token={site_server['token']}")
            assert tools.evaluate("location.pathname") == path and "token" not in tools.evaluate("location.href")
            assert charts and all(c["width"] > 0 and c["height"] > 0 and c["drawn"] > 0 for c in charts), (path, charts)
            assert problems == [], (path, problems)
        # The policy is enforced: an inline script the page did not ship is refused and reported.
        tools.events.clear()
        assert tools.evaluate(
            "(() => { const s = document.createElement('script'); s.textContent = 'window.injected = 1';"
            " document.body.appendChild(s); return window.injected === undefined; })()"
        )
        tools.evaluate("1")
        assert any("Content Security Policy" in json.dumps(event) for event in tools.events)
    finally:
        tools.close()
