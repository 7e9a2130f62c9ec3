"""The one atomic writer: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import stat

import pytest

from dashboards.common import write_page
from pipelines.files import atomic_copy, atomic_write, atomic_write_text


def test_a_write_replaces_the_file_and_leaves_no_staging_file(tmp_path):
    target = tmp_path / "pages" / "index.html"
    assert atomic_write_text(target, "第一版") == len("第一版".encode())
    assert atomic_write_text(target, "第二版") == len("第二版".encode())
    assert target.read_text(encoding="utf-8") == "第二版"
    assert [path.name for path in target.parent.iterdir()] == ["index.html"]


def test_a_failed_write_keeps_the_old_file_and_removes_its_staging_file(tmp_path):
    target = tmp_path / "exports" / "plan.xlsx"
    target.parent.mkdir()
    target.write_bytes(b"old")

    def half_written(staging):
        staging.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half_written)
    assert target.read_bytes() == b"old"
    assert [path.name for path in target.parent.iterdir()] == ["plan.xlsx"]


def test_a_page_is_replaced_by_a_rename_so_a_hard_linked_copy_keeps_the_old_page(tmp_path):
    published = tmp_path / "published.html"
    write_page(published, "旧页面")
    build = tmp_path / "build.html"
    os.link(published, build)  # how a site build starts (pipelines/sitebuild.py)
    write_page(build, "新页面")
    assert published.read_text(encoding="utf-8") == "旧页面"
    assert build.read_text(encoding="utf-8") == "新页面"


def test_files_are_created_with_the_usual_permissions_unless_told(tmp_path):
    old_umask = os.umask(0o022)
    try:
        page = tmp_path / "page.html"
        atomic_write_text(page, "x")
        private = atomic_copy(page, tmp_path / "tokens.json", mode=0o600)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(page.stat().st_mode) == 0o644  # readable by the web server, not mkstemp's 0600
    assert stat.S_IMODE(private.stat().st_mode) == 0o600


def test_a_file_whose_name_uses_the_whole_name_limit_is_still_written(tmp_path):
    name = "学" * 80 + ".xlsx"  # 245 bytes: the staging name must be cut, not the write refused
    target = tmp_path / "quarantine" / name
    atomic_write_text(target, "x")
    assert [path.name for path in target.parent.iterdir()] == [name]


def test_a_private_file_is_never_readable_by_others_even_while_staged(tmp_path):
    seen = []
    old_umask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "t.json", lambda staging: seen.append(stat.S_IMODE(staging.stat().st_mode)), 0o600)
    finally:
        os.umask(old_umask)
    assert seen == [0o600]
