"""The site is built aside and switched in one rename; `zhengai serve` follows the switch.

A run that crashes half-way through a real nightly run is tested in test_end_to_end.py.
"""

from __future__ import annotations

import http.client
import os
import time

import pytest

from dashboards.common import write_page
from pipelines import sitebuild
from pipelines.settings import get_settings
from pipelines.sitebuild import (
    in_background,
    old_builds_removed,
    publish_site,
    site_build,
    site_build_path,
    start_site_build,
)
from pipelines.tokens import issue_token
from serve_fixtures import served


def build(run_id: str, pages: dict[str, str]):
    folder = site_build(run_id)
    for name, text in pages.items():
        write_page(folder / name, text)
    return folder


def test_a_build_starts_from_the_published_site_without_touching_it():
    site = get_settings().site
    first = build("run-a", {"province/index.html": "<p>A</p>", "schools/13830/index.html": "<p>A13830</p>"})
    assert not site.exists()  # nothing is online before the run publishes
    assert publish_site("run-a") == first
    assert site.is_symlink() and site.resolve() == first.resolve()

    second = build("run-b", {"province/index.html": "<p>B</p>"})
    assert (second / "schools/13830/index.html").stat().st_ino == (first / "schools/13830/index.html").stat().st_ino
    assert (site / "province/index.html").read_text(encoding="utf-8") == "<p>A</p>"  # still the published build
    assert publish_site("run-b") == second
    assert (site / "province/index.html").read_text(encoding="utf-8") == "<p>B</p>"
    assert (site / "schools/13830/index.html").read_text(encoding="utf-8") == "<p>A13830</p>"
    assert not [path for path in site.parent.iterdir() if path.name.endswith(".tmp")]


def test_publishing_keeps_the_previous_build_and_removes_the_others():
    build("run-a", {"province/index.html": "A"})
    publish_site("run-a")
    build("run-b", {"province/index.html": "B"})  # a run that failed: never published
    build("run-c", {"province/index.html": "C"})
    publish_site("run-c")
    assert site_build_path("run-a") is not None  # the previous build: a request may still be reading it
    assert site_build_path("run-b") is None
    build("run-d", {"province/index.html": "D"})
    publish_site("run-d")
    assert site_build_path("run-a") is None and site_build_path("run-c") is not None
    assert len(list((get_settings().home / "site-builds").iterdir())) == 2


def test_old_builds_are_removed_while_the_publication_works_and_the_published_one_stays():
    build("run-a", {"province/index.html": "A"})
    publish_site("run-a")
    build("run-b", {"province/index.html": "B"})
    publish_site("run-b")
    build("run-c", {"province/index.html": "C"})  # the run publishing
    with old_builds_removed("run-c"):
        pass
    assert site_build_path("run-a") is None  # what publish_site("run-c") would remove after the switch
    assert site_build_path("run-b") is not None and site_build_path("run-c") is not None
    assert (get_settings().site / "province/index.html").read_text(encoding="utf-8") == "B"
    publish_site("run-c")
    assert site_build_path("run-b") is not None and len(list((get_settings().home / "site-builds").iterdir())) == 2


def test_a_run_without_pages_leaves_the_site_alone():
    build("run-a", {"province/index.html": "A"})
    publish_site("run-a")
    assert publish_site("run-without-pages") is None
    assert (get_settings().site / "province/index.html").read_text(encoding="utf-8") == "A"


def test_a_site_folder_from_before_builds_is_replaced_by_the_link():
    site = get_settings().site
    write_page(site / "province" / "index.html", "old")
    build("run-a", {"schools/13830/index.html": "new"})
    publish_site("run-a")
    assert site.is_symlink()
    assert (site / "province/index.html").read_text(encoding="utf-8") == "old"  # carried into the build
    assert (site / "schools/13830/index.html").read_text(encoding="utf-8") == "new"


def test_the_server_follows_the_link_and_still_refuses_escapes(zhengai_home):
    (zhengai_home / "secret.txt").write_text("SECRET-OUTSIDE-SITE", encoding="utf-8")
    older = build("run-0", {"province/index.html": "<p>旧版</p>"})
    publish_site("run-0")
    folder = build("run-a", {"province/index.html": "<p>全区A</p>"})
    (folder / "province" / "leak.html").symlink_to(zhengai_home / "secret.txt")
    (folder / "province" / "builds").symlink_to(zhengai_home / "site-builds", target_is_directory=True)
    publish_site("run-a")
    _, token = issue_token("secretariat")
    with served(zhengai_home) as (_, port):

        def get(path: str) -> tuple[int, str]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            body = response.read().decode("utf-8", errors="replace")
            conn.close()
            return response.status, body

        assert get("/province/") == (200, "<p>全区A</p>")
        assert get("/province/leak.html")[0] == 404
        assert get(f"/province/builds/{older.name}/province/index.html")[0] == 404  # another build
        build("run-b", {"province/index.html": "<p>全区B</p>"})
        assert get("/province/")[1] == "<p>全区A</p>"
        publish_site("run-b")
        assert get("/province/") == (200, "<p>全区B</p>")
    assert os.readlink(get_settings().site).startswith("site-builds/")


def test_a_build_begun_in_a_thread_is_awaited_by_the_page_steps_and_its_failure_raised(monkeypatch):
    build("run-a", {"province/index.html": "A", "schools/13830/index.html": "A13830"})
    publish_site("run-a")
    folder = start_site_build("run-b")  # the plotly_js step: the run goes on while the published site is linked
    assert (
        site_build("run-b") == folder and (folder / "schools/13830/index.html").read_text(encoding="utf-8") == "A13830"
    )

    def broken(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(sitebuild, "link_tree", broken)
    start_site_build("run-c")
    with pytest.raises(OSError, match="disk full"):
        site_build("run-c")  # the first page step fails, so the run never publishes
    assert (get_settings().site / "province/index.html").read_text(encoding="utf-8") == "A"


def test_work_in_a_thread_is_done_before_the_build_is_published_and_its_failure_publishes_nothing():
    build("run-a", {"province/index.html": "A"})
    publish_site("run-a")
    folder = build("run-b", {"province/index.html": "B"})

    def slow_workbook():
        time.sleep(0.5)  # still compressing when the run reaches its publication
        write_page(folder / "province/downloads/warnings-2024.xlsx", "workbook B")

    in_background("run-b", slow_workbook)
    rendered = []
    in_background("run-b", lambda: rendered.append(write_page(folder / "province/quality.html", "B")), True)
    assert rendered == []  # Python-heavy work waits for the publication to start
    publish_site("run-b")
    assert (get_settings().site / "province/downloads/warnings-2024.xlsx").read_text(encoding="utf-8") == "workbook B"
    assert (get_settings().site / "province/quality.html").read_text(encoding="utf-8") == "B"

    build("run-c", {"province/index.html": "C"})

    def failing():
        raise ValueError("sheet 1: 3 rows rendered, 4 laid out")

    in_background("run-c", failing)
    with pytest.raises(ValueError, match="rows rendered"):
        publish_site("run-c")
    assert (get_settings().site / "province/index.html").read_text(encoding="utf-8") == "B"


def test_the_pages_a_run_wrote_are_flushed_before_the_switch_and_no_others(monkeypatch):
    build("run-a", {"province/index.html": "A", "schools/13830/index.html": "A13830"})
    publish_site("run-a")
    folder = build("run-b", {"schools/13830/index.html": "B13830", "schools/14001/index.html": "B14001"})
    flushed, publishing = [], [folder]

    def fsync(handle):  # the real flush, and which file it was, while the build published is not yet the run's
        flushed.append(os.readlink(f"/proc/self/fd/{handle}"))
        assert get_settings().site.resolve() != publishing[-1].resolve()
        real_fsync(handle)

    def global_sync():
        raise AssertionError("the whole machine flushed")

    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "sync", global_sync)
    publish_site("run-b")
    assert get_settings().site.resolve() == folder.resolve()
    written = {str(folder / "schools/13830/index.html"), str(folder / "schools/14001/index.html")}
    assert written <= set(flushed)  # the rewritten page and the new one
    assert {str(folder / "schools/14001"), str(folder / "schools")} <= set(flushed)  # a new folder's entry
    assert str(folder / "province/index.html") not in flushed  # a hard link to run-a's page, flushed with run-a
    flushed.clear()
    publishing.append(build("run-c", {"province/index.html": "C"}))
    publish_site("run-c")
    assert not any("run-b" in path for path in flushed)  # what an earlier publication flushed is not flushed again


def test_old_builds_are_removed_from_the_start_of_a_build():
    build("run-a", {"province/index.html": "A"})
    publish_site("run-a")
    build("run-b", {"province/index.html": "B"})
    publish_site("run-b")
    run_a = site_build_path("run-a")
    folder = site_build("run-c")  # the plotly_js step begins the build, and the sweep of what it will replace
    assert sitebuild.SWEEPING["run-c"].result() == [run_a]  # done while the run ingests, long before publication
    with old_builds_removed("run-c"):  # the publication waits for that sweep, not for one of its own
        assert (folder / "province/index.html").read_text(encoding="utf-8") == "B"
    assert site_build_path("run-a") is None and site_build_path("run-b") is not None
    assert (get_settings().site / "province/index.html").read_text(encoding="utf-8") == "B"
