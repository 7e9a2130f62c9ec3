"""Headless Chromium opens a college dashboard and the province overview from the built site.

Over file:// with every network request routed to a dead proxy: the charts must render (each
plotly div has an SVG of non-zero size and drawn traces), the console must stay free of errors
and exceptions, and no request may leave the site's folder. Driven through the DevTools
protocol (websocket-client); screenshots are saved in the test's tmp dir and their paths printed.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipelines.settings import REFERENCE_DIR
from site_fixtures import write_fixture_site

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's `chromium` is not installed (.ci/run installs it: apt-get install chromium)"
)
TIMEOUT = 30

CHART_STATE_JS = """
JSON.stringify([...document.querySelectorAll('.js-plotly-plot')].map(div => {
  const svg = div.querySelector('.main-svg');
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  return {id: div.id, width: box.width, height: box.height,
          traces: (div._fullData || []).length,
          drawn: div.querySelectorAll('.trace, .hm, .heatmaplayer image, .boxlayer path').length};
}))
"""
# the boxes a page's charts are drawn into, present in the HTML before any script ran: plotly's own
# (dashboards/common.py, `to_html`) and the college dashboard's (dashboards/templates/college.html)
CHART_BOXES_JS = "document.querySelectorAll('.plotly-graph-div, .trend-chart, .js-plotly-plot').length"


class DevTools:
    """A minimal DevTools protocol client on one page target: commands in order, events collected."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.socket = websocket.create_connection(ws_url, timeout=TIMEOUT, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    def send(self, method: str, **params) -> dict:
        message_id = next(self.ids)
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events:
                if event.get("method") == method:
                    self.events.remove(event)
                    return event
            self.socket.settimeout(max(deadline - time.monotonic(), 0.1))
            self.events.append(json.loads(self.socket.recv()))
        raise TimeoutError(method)

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def close(self) -> None:
        self.socket.close()


@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    site = tmp_path_factory.mktemp("browser") / "site"
    return site, write_fixture_site(site)


@contextmanager
def chromium(profile: Path, reach_loopback: bool = False):
    """Headless Chromium with its DevTools port; network goes to a dead proxy (loopback too, unless
    `reach_loopback`: a server under test on 127.0.0.1)."""
    proxy = ["--proxy-server=http://127.0.0.1:9"] + ([] if reach_loopback else ["--proxy-bypass-list=<-loopback>"])
    process = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--mute-audio",
            "--window-size=1280,1800",
            *proxy,
            "--remote-debugging-port=0",
            "--remote-allow-origins=*",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield devtools_port(process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    # No network: anything not file:// goes to a proxy that is not there.
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as port:
        yield port


def devtools_port(process: subprocess.Popen) -> int:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            raise RuntimeError(f"chromium exited with {process.returncode}")
        found = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
        if found:
            return int(found.group(1))
    raise TimeoutError("chromium did not start its DevTools endpoint")


def open_page(port: int) -> DevTools:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        target = json.loads(response.read())
    return DevTools(target["webSocketDebuggerUrl"])


def navigate_and_wait_for_charts(tools: DevTools, url: str, render_timeout: float = TIMEOUT) -> list[dict]:
    """Open `url` in the tab and wait until every chart is drawn (or `render_timeout`); the chart states.
    A page without a chart box (a report, a plan) has nothing to wait for once loaded."""
    tools.send("Page.navigate", url=url)
    tools.wait_for("Page.loadEventFired")
    charts = []
    if not tools.evaluate(CHART_BOXES_JS):
        return charts
    deadline = time.monotonic() + render_timeout
    while time.monotonic() < deadline:
        charts = json.loads(tools.evaluate(CHART_STATE_JS))
        if charts and all(chart["width"] > 0 and chart["drawn"] > 0 for chart in charts):
            break
        time.sleep(0.2)
    return charts


def load_and_inspect(
    port: int, page: Path, screenshot: Path, render_timeout: float = TIMEOUT
) -> tuple[list[dict], list[str], list[str]]:
    """Open `page`, wait until every chart is drawn (or `render_timeout`); returns
    (chart states, console errors, URLs requested outside file://)."""
    tools = open_page(port)
    try:
        for domain in ("Page", "Runtime", "Log", "Network"):
            tools.send(f"{domain}.enable")
        charts = navigate_and_wait_for_charts(tools, page.as_uri(), render_timeout)
        shot = tools.send("Page.captureScreenshot", format="png")
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        print(f"screenshot: {screenshot}")
        tools.evaluate("1")  # drain events that arrived while rendering
        errors, remote = [], []
        for event in tools.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                errors.append(params["exceptionDetails"].get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(json.dumps(params.get("args"), ensure_ascii=False))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                errors.append(params["entry"].get("text", ""))
            elif method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if not url.startswith(("file://", "data:", "about:")):
                    remote.append(url)
        return charts, errors, remote
    finally:
        tools.close()


def test_college_dashboard_renders_offline(built_site, browser, tmp_path):
    site, codes = built_site
    charts, errors, remote = load_and_inspect(
        browser, site / "schools" / codes[0] / "index.html", tmp_path / "college.png"
    )
    catalogued = (REFERENCE_DIR / "indicators.csv").read_text(encoding="utf-8").strip().count("\n")
    assert len(charts) == catalogued, "one trend chart per indicator"
    assert all(chart["width"] > 0 and chart["height"] > 0 and chart["traces"] > 0 for chart in charts), charts
    assert all(chart["drawn"] > 0 for chart in charts), charts
    assert errors == []
    assert remote == []
    assert (tmp_path / "college.png").stat().st_size > 10_000


def test_province_overview_renders_offline(built_site, browser, tmp_path):
    site, _ = built_site
    charts, errors, remote = load_and_inspect(browser, site / "province" / "index.html", tmp_path / "province.png")
    ids = {chart["id"] for chart in charts}
    assert {"province-heatmap", "province-completeness", "province-levels", "province-risk"} <= ids
    assert all(chart["width"] > 0 and chart["height"] > 0 and chart["drawn"] > 0 for chart in charts), charts
    assert errors == []
    assert remote == []


def test_a_page_without_plotly_js_is_caught(built_site, browser, tmp_path):
    """The checks can fail: without the shipped plotly.min.js nothing renders and the console reports it."""
    site, codes = built_site
    broken = tmp_path / "site"
    shutil.copytree(site / "schools" / codes[0], broken / "schools" / codes[0])
    charts, errors, _ = load_and_inspect(
        browser, broken / "schools" / codes[0] / "index.html", tmp_path / "broken.png", render_timeout=2
    )
    assert charts == [] or not all(chart["drawn"] > 0 for chart in charts)
    assert errors != []
