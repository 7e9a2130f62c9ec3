"""The ingest as runs: inbox layouts and zip deliveries, idempotence and re-exports, one transaction,
the archive, the raw asset, the demo province end to end and the worker pool."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import zipfile
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets import raw
from ingest_fixtures import (
    TEACHERS_FILE,
    inbox,
    log_rows,
    make_zip,
    run,
    sample_rows,
    snapshot,
    teacher_rows,
    teachers,
    without_load_time,
    write_college,
    write_xlsx,
    xlsx_bytes,
)
from pipelines.catalog import load_catalog
from pipelines.ingest import Delivery, Ingest, SchoolWork, _write_once, chunks_by_bytes, ingest_inbox
from pipelines.ingest import pool as ingest_pool
from pipelines.resources import WarehouseResource
from pipelines.settings import get_settings

CATALOG = load_catalog()
TEACHERS = CATALOG.by_code("6.1")


def test_zip_delivery_in_one_folder_loads_and_is_archived(conn, tmp_path):
    majors = CATALOG.by_code("7.1")
    members = {
        "13829_2024/表6.1 校内专任教师.xlsx": xlsx_bytes(tmp_path, TEACHERS, teacher_rows()),
        "13829_2024/表7.1 专业设置.xlsx": xlsx_bytes(tmp_path, majors, sample_rows(majors, 4)),
    }
    zip_path = make_zip(inbox() / "13829_2024.zip", members)
    summary = run(conn)
    assert (summary.loaded, summary.quarantined) == (2, 0)
    assert [row["source_file"] for row in log_rows(conn)] == [
        "13829_2024.zip/表6.1 校内专任教师.xlsx",
        "13829_2024.zip/表7.1 专业设置.xlsx",
    ]
    assert teachers(conn)["year"].to_list() == [2024, 2024]
    assert conn.sql("select count(*) from raw.majors where school_code = '13829'").fetchone()[0] == 4
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    assert (get_settings().archive / digest[:2] / f"{digest}.zip").read_bytes() == zip_path.read_bytes()
    assert zip_path.exists()  # the inbox is left in place
    assert run(conn).unchanged == 2


def test_zip_member_escaping_its_folder_is_refused(conn, tmp_path):
    members = {"表6.1 校内专任教师.xlsx": xlsx_bytes(tmp_path, TEACHERS, teacher_rows()), "../../evil.xlsx": b"payload"}
    make_zip(inbox() / "13829_2024.zip", members)
    summary = run(conn)
    assert (summary.loaded, summary.quarantined) == (0, 1)
    (log,) = log_rows(conn)
    assert log["source_file"] == "13829_2024.zip" and log["status"] == "quarantined"
    assert "../../evil.xlsx" in log["reason"] and "文件夹之外" in log["reason"] and "outside" in log["reason_en"]
    assert teachers(conn).height == 0
    assert not (get_settings().home.parent / "evil.xlsx").exists()
    reason = (get_settings().quarantine / "13829" / "2024" / "13829_2024.zip.reason.txt").read_text(encoding="utf-8")
    assert "13829_2024.zip" in reason and "refused" in reason


def test_zip_bomb_is_refused(conn, tmp_path):
    make_zip(inbox() / "13829_2024.zip", {"表6.1 校内专任教师.xlsx": b"\0" * (20 * 1024 * 1024)})
    summary = run(conn)
    assert (summary.loaded, summary.quarantined) == (0, 1)
    (log,) = log_rows(conn)
    assert "解压后过大" in log["reason"] and "expands too far" in log["reason_en"]


def test_zip_over_the_size_setting_is_refused(conn, tmp_path, monkeypatch):
    monkeypatch.setenv("ZHENGAI_ZIP_MAX_BYTES", "1000")
    make_zip(
        inbox() / "13829_2024.zip",
        {"表6.1 校内专任教师.xlsx": xlsx_bytes(tmp_path, TEACHERS, teacher_rows())},
        compression=zipfile.ZIP_STORED,
    )
    assert run(conn).quarantined == 1
    assert "1000 字节" in log_rows(conn)[0]["reason"]


def test_file_outside_a_year_folder_is_quarantined(conn):
    write_xlsx(inbox() / "13829" / TEACHERS_FILE, TEACHERS, teacher_rows())
    write_xlsx(inbox() / "13829" / "2024年" / TEACHERS_FILE, TEACHERS, teacher_rows())
    (inbox() / "manifest.json").write_text("{}")  # a generator's manifest is not a delivery
    summary = run(conn)
    assert (summary.loaded, summary.quarantined) == (0, 2)
    assert all("inbox/<学校代码>/<采集年份>/" in row["reason"] for row in log_rows(conn))
    assert (get_settings().quarantine / "13829" / "2024年" / f"{TEACHERS_FILE}.reason.txt").is_file()


def test_bad_re_export_keeps_the_previous_data(conn):
    path = write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, teacher_rows())
    run(conn)
    before = snapshot(conn)
    path.write_bytes(b"not a workbook")
    assert run(conn).quarantined == 1
    assert snapshot(conn)["full_time_teachers"] == before["full_time_teachers"]
    assert "此前已载入的该表数据保持不变" in log_rows(conn)[0]["reason"]


# -- idempotence and replacement ------------------------------------------------------------------


def test_second_run_is_all_unchanged_with_identical_tables(conn):
    written = write_college(inbox(), "13829", 2024)
    write_college(inbox(), "13830", 2024, ["6.1", "9.2"])
    first = run(conn)
    assert (first.loaded, first.quarantined) == (len(written) + 2, 0)
    before = snapshot(conn)
    log_before = conn.sql("select * from raw.ingest_log order by all").fetchall()
    second = run(conn)
    assert (second.loaded, second.unchanged, second.quarantined) == (0, len(written) + 2, 0)
    assert snapshot(conn) == before
    log_after = conn.sql("select * exclude (status) from raw.ingest_log order by all").fetchall()
    assert log_after == [row[:6] + row[7:] for row in log_before]
    for table in CATALOG.tables:
        count = conn.sql(f"select count(*) from raw.\"{table.table_name}\" where school_code = '13829'").fetchone()[0]
        assert count == written[table.code], table.code


def test_re_export_of_one_college_replaces_only_its_rows(conn):
    write_college(inbox(), "13829", 2024, ["6.1", "7.1"])
    write_college(inbox(), "13830", 2024, ["6.1", "7.1"])
    write_college(inbox(), "13829", 2023, ["6.1"])
    run(conn)
    before = snapshot(conn)
    new_rows = sample_rows(TEACHERS, 5, seed=10)
    write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, new_rows)
    summary = run(conn)
    assert (summary.loaded, summary.unchanged) == (1, 4)
    after = snapshot(conn)
    assert {name for name in after if after[name] != before[name]} == {"full_time_teachers", "ingest_log"}
    changed = conn.sql("select school_code, year, staff_no from raw.full_time_teachers order by all").fetchall()
    untouched = [row for row in changed if (row[0], row[1]) != ("13829", 2024)]
    assert len(untouched) == 6
    assert [row[2] for row in changed if (row[0], row[1]) == ("13829", 2024)] == sorted(
        f"staff_no-{n}" for n in range(11, 16)
    )
    old = [r for r in before["full_time_teachers"] if r[-7] != "13829" or r[-6] != 2024]
    new = [r for r in after["full_time_teachers"] if r[-7] != "13829" or r[-6] != 2024]
    assert old == new


def test_a_run_that_fails_part_way_leaves_the_warehouse_as_it_was(conn, monkeypatch):
    for school in ("13829", "13830", "13831"):
        write_college(inbox(), school, 2024, ["6.1", "7.1"])
    run(conn)
    before = snapshot(conn)
    for school in ("13829", "13830", "13831"):  # every college re-exports its teachers
        write_xlsx(inbox() / school / "2024" / TEACHERS_FILE, TEACHERS, sample_rows(TEACHERS, 4, seed=int(school)))
    monkeypatch.setenv("ZHENGAI_INGEST_WORKERS", "1")
    monkeypatch.setenv("ZHENGAI_INGEST_CHUNK_BYTES", "1")  # one college per chunk
    monkeypatch.setenv("ZHENGAI_INGEST_BATCH_ROWS", "1")  # and a write after each
    merged = []
    original = Ingest.merge

    def fail_on_the_third_college(self, result):
        if len(merged) == 2:
            raise OSError("disk full")
        merged.append(result)
        original(self, result)

    monkeypatch.setattr(Ingest, "merge", fail_on_the_third_college)
    with pytest.raises(OSError, match="disk full"):
        run(conn)
    assert len(merged) == 2  # two colleges' new rows had been written when it failed
    assert snapshot(conn) == before
    monkeypatch.setattr(Ingest, "merge", original)
    assert run(conn).loaded == 3
    assert snapshot(conn)["full_time_teachers"] != before["full_time_teachers"]


def test_two_exports_of_one_table_use_the_newer(conn):
    write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, teacher_rows(), created=dt.datetime(2024, 10, 1))
    write_xlsx(
        inbox() / "13829" / "2024" / "表6.1 校内专任教师（更正）.xlsx",
        TEACHERS,
        teacher_rows()[:1],
        created=dt.datetime(2024, 10, 20),
    )
    summary = run(conn)
    assert (summary.loaded, summary.quarantined) == (1, 1)
    assert teachers(conn)["source_file"].to_list() == ["13829/2024/表6.1 校内专任教师（更正）.xlsx"]
    (old,) = [row for row in log_rows(conn) if row["status"] == "quarantined"]
    assert old["source_file"] == f"13829/2024/{TEACHERS_FILE}" and "较新的" in old["reason"]


def test_every_file_is_archived_by_hash(conn):
    path = write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, teacher_rows())
    (inbox() / "13829" / "2024" / "notes.docx").write_bytes(b"word")
    run(conn)
    rows = log_rows(conn)
    assert {row["status"] for row in rows} == {"loaded", "quarantined"}
    for row in rows:
        archived = get_settings().home / row["archived_path"]
        assert archived.name == f"{row['file_sha256']}{Path(row['source_file']).suffix}"
        assert archived.parent.name == row["file_sha256"][:2]
    assert (get_settings().home / rows[1]["archived_path"]).read_bytes() == path.read_bytes()
    assert "不支持的文件格式 .docx" in rows[0]["reason"]


def test_archive_is_a_copy_unless_hard_links_are_asked_for(conn, monkeypatch):
    path = write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, teacher_rows())
    run(conn)
    (row,) = log_rows(conn)
    archived = get_settings().home / row["archived_path"]
    assert archived.read_bytes() == path.read_bytes() and not archived.samefile(path)

    monkeypatch.setenv("ZHENGAI_ARCHIVE_HARDLINK", "1")
    other = write_xlsx(inbox() / "13830" / "2024" / TEACHERS_FILE, TEACHERS, teacher_rows()[:1])
    run(conn)
    (row,) = [row for row in log_rows(conn) if row["school_code"] == "13830"]
    linked = get_settings().home / row["archived_path"]
    assert linked.samefile(other) and linked.read_bytes() == other.read_bytes()


def test_a_file_replaced_after_it_was_read_is_archived_as_read_not_linked(tmp_path):
    source = tmp_path / "inbox.xlsx"
    source.write_bytes(b"as read")
    read = os.stat(source)
    replacement = tmp_path / "new.xlsx"
    replacement.write_bytes(b"a newer export")
    os.replace(replacement, source)  # the college replaced the file between the read and the archive
    target = tmp_path / "archive" / "ab" / "abc.xlsx"
    _write_once(target, b"as read", (source, read))
    assert target.read_bytes() == b"as read" and not target.samefile(source)


# -- the Dagster asset ----------------------------------------------------------------------------


def test_raw_asset_materializes_every_table_and_the_log(tmp_path):
    write_college(inbox(), "13829", 2024, ["6.1", "7.1"])
    warehouse = WarehouseResource(path=str(tmp_path / "work.duckdb"), published_path=str(tmp_path / "pub.duckdb"))
    result = dg.materialize(raw.assets(), resources={"warehouse": warehouse})
    assert result.success
    keys = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert keys == {"raw/ingest_log", "raw/ingest_files", "raw/college_year_inputs"} | {
        f"raw/{t.table_name}" for t in CATALOG.tables
    }
    log_event = next(
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(["raw", "ingest_log"])
    )
    metadata = log_event.materialization.metadata
    assert (metadata["files_loaded"].value, metadata["files_quarantined"].value, metadata["files_read"].value) == (
        2,
        0,
        2,
    )
    with duckdb.connect(str(tmp_path / "work.duckdb")) as check:
        assert check.sql("select count(*) from raw.full_time_teachers").fetchone()[0] == 3


def test_raw_assets_depend_on_the_catalog():
    (multi,) = raw.assets()
    catalog_keys = {dg.AssetKey(["ref", "platform_tables"]), dg.AssetKey(["ref", "platform_columns"])}
    for key in multi.keys:
        assert catalog_keys <= set(multi.asset_deps[key])


# -- the demo province end to end -----------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict]:
    """The demo province (3 colleges × 2 years, defects), generated once for the module's tests."""
    from pipelines.demo.province import generate_province

    out = tmp_path_factory.mktemp("demo-province")
    manifest = generate_province(
        out / "inbox", schools=3, years=[2023, 2024], seed=7, defects=True, registry=out / "registry" / "schools.csv"
    )
    return out, manifest


@pytest.fixture
def synth_province(generated) -> dict:
    """A copy of the generated province in the test's home (inbox and registry, as `zhengai synth` writes them)."""
    out, manifest = generated
    shutil.copytree(out, get_settings().home, dirs_exist_ok=True)
    return manifest


def test_demo_province_ingests_as_its_manifest_says(conn, synth_province):
    manifest = synth_province
    summary = run(conn)
    corrupt = {
        (d["school_code"], d["year"], d["table_code"]) for d in manifest["defects"] if d["kind"] == "corrupt_file"
    }
    assert corrupt and summary.quarantined == len(corrupt)
    assert summary.loaded == len(manifest["files"]) - len(corrupt)
    log = {(row["source_file"], row["table_code"]): row for row in log_rows(conn)}
    for entry in manifest["files"]:
        table = CATALOG.by_code(entry["table_code"])
        count = conn.execute(
            f'select count(*) from raw."{table.table_name}" where school_code = ? and year = ?',
            [entry["school_code"], entry["year"]],
        ).fetchone()[0]
        row = log[(entry["path"], entry["table_code"])]
        if (entry["school_code"], entry["year"], entry["table_code"]) in corrupt:
            assert (count, row["status"]) == (0, "quarantined") and "已损坏" in row["reason"]
            continue
        assert (count, row["rows"], row["status"]) == (entry["rows"], entry["rows"], "loaded"), entry["path"]
        assert row["period_year"] == entry["period_year"]
        expected_export = dt.datetime.fromisoformat(entry["exported_at"]) if entry["exported_at"] else None
        assert row["exported_at"] == expected_export
    for defect in manifest["defects"]:
        school, year, code = defect["school_code"], defect["year"], defect["table_code"]
        if defect["kind"] == "missing_table":
            table = CATALOG.by_code(code)
            assert (
                conn.execute(
                    f'select count(*) from raw."{table.table_name}" where school_code = ? and year = ?', [school, year]
                ).fetchone()[0]
                == 0
            )
        elif defect["kind"] == "not_submitted":
            assert not [r for r in log.values() if (r["school_code"], r["year"]) == (school, year)]
        elif defect["kind"] == "out_of_domain" and defect["column_name"] == "gender":
            bad = conn.execute(
                "select row_no from raw.full_time_teachers where school_code = ? and year = ? "
                "and gender = '未知' order by row_no",
                [school, year],
            ).fetchall()
            assert [r[0] for r in bad] == defect["row_nos"]
        elif defect["kind"] == "duplicate_key":
            rows = conn.execute(
                "select row_no, staff_no from raw.full_time_teachers where school_code = $s "
                "and year = $y order by row_no",
                {"s": school, "y": year},
            ).fetchall()
            staff = dict(rows)
            first, second = defect["row_nos"]
            assert staff[first] == staff[second]
        elif defect["kind"] in ("gbk_csv", "zip_delivery"):
            assert all(
                r["status"] == "loaded"
                for r in log.values()
                if (r["school_code"], r["year"]) == (school, year)
                and r["table_code"] not in {c[2] for c in corrupt if c[:2] == (school, year)}
            )


def test_demo_province_rerun_is_unchanged_and_a_re_export_touches_one_college(conn, synth_province):
    manifest = synth_province
    first = run(conn)
    before = snapshot(conn)
    second = run(conn)
    assert (second.loaded, second.unchanged, second.quarantined) == (0, first.loaded, first.quarantined)
    assert snapshot(conn) == before
    entry = next(
        e for e in manifest["files"] if e["table_code"] == "6.1" and e["archive"] is None and e["format"] == "xlsx"
    )
    school, year = entry["school_code"], entry["year"]
    write_xlsx(inbox() / entry["path"], TEACHERS, sample_rows(TEACHERS, 4), year=year)
    third = run(conn)
    assert (third.loaded, third.quarantined) == (1, first.quarantined)
    after = snapshot(conn)
    assert {name for name in after if after[name] != before[name]} == {"full_time_teachers", "ingest_log"}
    outside = "select * from raw.full_time_teachers where not (school_code = $s and year = $y) order by all"
    kept = conn.execute(outside, {"s": school, "y": year}).fetchall()
    assert kept == [row for row in before["full_time_teachers"] if (row[-7], row[-6]) != (school, year)]
    assert (
        conn.execute(
            "select count(*) from raw.full_time_teachers where school_code = $s and year = $y", {"s": school, "y": year}
        ).fetchone()[0]
        == 4
    )


def test_worker_processes_give_the_same_warehouse_as_one_process(monkeypatch, synth_province):
    at = dt.datetime(2024, 11, 1, 2, 0)
    results, chunks, heard, hooks_left, merged = {}, {}, [], {}, []
    monkeypatch.setattr(Ingest, "merge", lambda self, result, merge=Ingest.merge: merged.append(merge(self, result)))
    for workers in ("1", "2"):
        merged.clear()
        # what `zhengai run` hands the pool (GX's import on a cold run): called once, only by a pool, once
        # every chunk's result is merged (the merges counted when it is called)
        hooks = [lambda workers=workers: heard.append((workers, len(merged)))]
        monkeypatch.setattr(ingest_pool, "WHEN_WORKERS_DONE", hooks)
        monkeypatch.setenv("ZHENGAI_INGEST_WORKERS", workers)
        monkeypatch.setenv("ZHENGAI_INGEST_POOL_MIN_SCHOOLS", "2")
        monkeypatch.setenv("ZHENGAI_INGEST_CHUNK_BYTES", "1")  # one college per task: several tasks
        monkeypatch.setenv("ZHENGAI_INGEST_BATCH_ROWS", "2000")  # several flushes
        with duckdb.connect() as connection:
            summary = ingest_inbox(connection, get_settings(), ingested_at=at)
            results[workers] = (
                summary.loaded,
                summary.quarantined,
                snapshot(connection),
                connection.sql("select * from raw.ingest_log order by all").fetchall(),
            )
            chunks[workers] = dict(summary.chunks_read)
        hooks_left[workers] = len(hooks)
    assert results["1"] == results["2"]
    colleges = len({row[3] for row in results["1"][3]})  # school_code of every log row: one chunk each
    assert heard == [("2", colleges)] and hooks_left == {"1": 1, "2": 0}
    assert chunks["1"] == {os.getpid(): colleges}  # one process: every chunk read here
    # the pool: every chunk read by a worker process, none in this one
    assert os.getpid() not in chunks["2"] and sum(chunks["2"].values()) == colleges and colleges >= 3


def test_worker_tasks_hold_whole_colleges_of_about_the_chunk_size(tmp_path):
    def college(code: str, *sizes: int) -> SchoolWork:
        deliveries = [
            Delivery(f"{code}/2024/{n}.xlsx", code, 2024, (code, "2024"), tmp_path, dt.datetime(2024, 1, 1), size=size)
            for n, size in enumerate(sizes)
        ]
        return SchoolWork(code, deliveries, {}, {}, 0)

    colleges = [college("10001", 300, 300), college("10002", 500), college("10003", 900, 400), college("10004", 100)]
    chunks = [[work.school for work in chunk] for chunk in chunks_by_bytes(colleges, 1000)]
    # 600 + 500 would pass 1000; a college above the limit is a task of its own, never split
    assert chunks == [["10001"], ["10002"], ["10003"], ["10004"]]
    assert [[w.school for w in c] for c in chunks_by_bytes(colleges, 1100)] == [
        ["10001", "10002"],
        ["10003"],
        ["10004"],
    ]
    assert [[w.school for w in c] for c in chunks_by_bytes(colleges, 10**6)] == [["10001", "10002", "10003", "10004"]]


def test_zip_member_with_a_bad_checksum_is_quarantined_and_the_rest_loads(conn, tmp_path):
    majors = CATALOG.by_code("7.1")
    teachers_bytes = xlsx_bytes(tmp_path, TEACHERS, teacher_rows())
    zip_path = make_zip(
        inbox() / "13829_2024.zip",
        {
            "表6.1 校内专任教师.xlsx": teachers_bytes,
            "表7.1 专业设置.xlsx": xlsx_bytes(tmp_path, majors, sample_rows(majors, 2)),
        },
        compression=zipfile.ZIP_STORED,
    )
    content = bytearray(zip_path.read_bytes())
    at = content.find(teachers_bytes[100:140])
    content[at] ^= 0xFF
    zip_path.write_bytes(bytes(content))
    summary = run(conn)
    assert (summary.loaded, summary.quarantined) == (1, 1)
    (bad,) = [row for row in log_rows(conn) if row["status"] == "quarantined"]
    assert bad["source_file"] == "13829_2024.zip/表6.1 校内专任教师.xlsx" and "无法读取文件" in bad["reason"]
    assert conn.sql("select count(*) from raw.majors").fetchone()[0] == 2


def test_a_good_export_after_a_quarantined_one_replaces_the_rows_kept(conn):
    path = write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, teacher_rows())
    good = path.read_bytes()
    run(conn)
    before = snapshot(conn)
    path.write_bytes(b"not a workbook")
    assert run(conn).quarantined == 1  # its log row no longer says the rows are there
    path.write_bytes(good)
    assert run(conn).loaded == 1
    assert without_load_time(snapshot(conn)) == without_load_time(before)  # not loaded twice
