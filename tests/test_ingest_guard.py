"""The ingest survives what a college sends: per-file failure, bounded memory, no symlink
escapes, formulas without values (honest CSV: tests/test_ingest_csv.py), and worker processes that end with the run."""

from __future__ import annotations

import datetime as dt
import os
import pickle
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from multiprocessing import forkserver
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

import pipelines.ingest.college as college_module
from ingest_fixtures import (
    sample_rows,
    strip_formula_values,
    write_college,
    write_csv,
    write_csv_with_open_quote,
    write_shared_strings_bomb,
    write_xlsx,
)
from pipelines.catalog import load_catalog
from pipelines.ingest import (
    ChunkResult,
    ChunkTask,
    CollegeReader,
    Delivery,
    Ingest,
    LogRow,
    Problem,
    SchoolWork,
    discover,
    ingest_inbox,
)
from pipelines.ingest.guard import bounded_name
from pipelines.settings import PROJECT_ROOT, IngestLimits, get_settings

CATALOG = load_catalog()
TEACHERS = CATALOG.by_code("6.1")
MAJORS = CATALOG.by_code("7.1")
TEACHERS_FILE = "表6.1 校内专任教师.xlsx"


@pytest.fixture
def conn():
    connection = duckdb.connect()
    yield connection
    connection.close()


def inbox() -> Path:
    return get_settings().inbox


def log_rows(conn) -> dict[str, dict]:
    return {row["source_file"]: row for row in conn.sql("select * from raw.ingest_log").pl().to_dicts()}


def use_pool(monkeypatch, workers: int = 2, min_schools: int = 3) -> None:
    monkeypatch.setenv("ZHENGAI_INGEST_WORKERS", str(workers))
    monkeypatch.setenv("ZHENGAI_INGEST_POOL_MIN_SCHOOLS", str(min_schools))
    monkeypatch.setenv("ZHENGAI_INGEST_CHUNK_BYTES", "1")  # one college per task: several tasks


def in_process(monkeypatch) -> None:
    monkeypatch.setenv("ZHENGAI_INGEST_WORKERS", "1")


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def session_members(session: int) -> list[int]:
    """Live processes of a session (a run started with start_new_session=True and all it forked)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def wait_until(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# -- what crosses the process boundary ------------------------------------------------------------


def test_every_type_sent_to_or_from_a_worker_survives_pickle(tmp_path):
    problem = Problem("文件位置不符合约定", "file is not where the inbox layout expects it")
    assert pickle.loads(pickle.dumps(problem)) == problem
    assert str(pickle.loads(pickle.dumps(problem))) == problem.en
    delivery = Delivery(
        "13829/表6.1.xlsx",
        "13829",
        None,
        ("13829", "unknown"),
        tmp_path / "x.xlsx",
        dt.datetime(2024, 10, 1),
        problem=problem,
        readable=False,
    )
    work = SchoolWork(
        "13829",
        [delivery],
        {("13829", 2024, "6.1"): ("ab" * 32, 3)},
        {("13829/表6.1.xlsx", "ab" * 32): [{"status": "loaded"}]},
        100_000,
    )
    task = ChunkTask(get_settings(), CATALOG, IngestLimits.from_env(), dt.datetime(2024, 11, 1), [work])
    row = LogRow(
        "13829/表6.1.xlsx",
        None,
        None,
        "13829",
        None,
        None,
        "quarantined",
        0,
        problem.zh,
        problem.en,
        None,
        None,
        None,
        dt.datetime(2024, 11, 1),
        [],
        0,
    )
    result = ChunkResult(
        [("13829", [row])],
        {"full_time_teachers": pa.table({"staff_no": ["T1"]})},
        [("full_time_teachers", "13829", 2024)],
        (123, 1.5, 2048),
    )
    for value in (delivery, work, row, result, task.limits, task.settings):
        assert pickle.loads(pickle.dumps(value)) == value, type(value).__name__
    copy = pickle.loads(pickle.dumps(task))
    assert copy.schools == task.schools and copy.limits == task.limits and copy.ingested_at == task.ingested_at
    assert [t.code for t in copy.catalog.tables] == [t.code for t in CATALOG.tables]


def test_a_misplaced_file_beside_good_colleges_is_quarantined_when_the_pool_runs(conn, monkeypatch):
    use_pool(monkeypatch)
    for school in ("13829", "13830", "13831"):
        write_college(inbox(), school, 2024, ["6.1", "7.1"])
    write_xlsx(inbox() / "13829" / TEACHERS_FILE, TEACHERS, sample_rows(TEACHERS, 2))  # no year folder
    summary = ingest_inbox(conn, get_settings())
    assert set(summary.processes) - {os.getpid()}  # worker processes did the reading
    assert (summary.loaded, summary.quarantined) == (6, 1)
    assert "inbox/<学校代码>/<采集年份>/" in log_rows(conn)[f"13829/{TEACHERS_FILE}"]["reason"]


# -- per-file failure -----------------------------------------------------------------------------


def test_a_name_too_long_for_a_reason_file_is_cut_and_hashed(conn):
    name = "表6.1 校内专任教师" + "很长的说明" * 15 + ".docx"  # 250 bytes: `.reason.txt` would pass 255
    assert len(name.encode()) >= 245
    write_college(inbox(), "13829", 2024, ["7.1"])
    (inbox() / "13829" / "2024" / name).write_bytes(b"word")
    summary = ingest_inbox(conn, get_settings())
    assert (summary.loaded, summary.quarantined) == (1, 1)
    reasons = list((get_settings().quarantine / "13829" / "2024").glob("*.reason.txt"))
    assert [path.name for path in reasons] == [bounded_name(name, ".reason.txt")]
    assert len(reasons[0].name.encode()) <= 255 and reasons[0].name.startswith("表6.1 校内专任教师")
    assert f"13829/2024/{name}" in reasons[0].read_text(encoding="utf-8")
    other = bounded_name(name.replace("很长", "极长"), ".reason.txt")
    assert other != reasons[0].name  # two long names never share a reason file


def test_a_quarantine_that_cannot_be_written_still_logs_the_reason(conn):
    write_college(inbox(), "13829", 2024, ["6.1"])
    (inbox() / "13829" / "2024" / "notes.docx").write_bytes(b"word")
    get_settings().quarantine.write_bytes(b"not a folder")  # the quarantine cannot be created
    summary = ingest_inbox(conn, get_settings())
    assert (summary.loaded, summary.quarantined) == (1, 1)
    reason = log_rows(conn)["13829/2024/notes.docx"]["reason"]
    assert "不支持的文件格式 .docx" in reason and "隔离副本未能写入" in reason


def test_an_unexpected_failure_on_one_file_quarantines_only_that_file(conn, monkeypatch):
    in_process(monkeypatch)
    write_college(inbox(), "13829", 2024, ["6.1", "7.1"])
    original = CollegeReader.tables_of

    def fails_on_majors(self, delivery, data, sha):
        if "7.1" in delivery.name:
            raise RuntimeError("a bug nobody foresaw")
        return original(self, delivery, data, sha)

    monkeypatch.setattr(CollegeReader, "tables_of", fails_on_majors)
    summary = ingest_inbox(conn, get_settings())
    assert (summary.loaded, summary.quarantined) == (1, 1)
    bad = log_rows(conn)["13829/2024/表7.1 专业设置.xlsx"]
    assert "处理文件 表7.1 专业设置.xlsx 时出错" in bad["reason"] and "RuntimeError" in bad["reason_en"]
    assert (get_settings().quarantine / "13829" / "2024" / "表7.1 专业设置.xlsx.reason.txt").is_file()


def test_a_file_that_fails_typing_is_quarantined_and_the_chunk_loads(conn, monkeypatch):
    in_process(monkeypatch)
    write_college(inbox(), "13829", 2024, ["6.1", "7.1"])
    write_college(inbox(), "13830", 2024, ["6.1"])
    original = college_module.type_chunk

    def fails_with_one_file(texts, catalog, files):
        if any(
            files[int(file_id)][0] == "13830"
            for parts in texts.values()
            for part in parts
            for file_id in part.column("__file").to_pylist()
        ):
            raise pa.ArrowInvalid("a typing bug")
        return original(texts, catalog, files)

    monkeypatch.setattr(college_module, "type_chunk", fails_with_one_file)
    summary = ingest_inbox(conn, get_settings())
    log = log_rows(conn)
    assert log[f"13830/2024/{TEACHERS_FILE}"]["status"] == "quarantined"
    assert "ArrowInvalid" in log[f"13830/2024/{TEACHERS_FILE}"]["reason"]
    assert [log[f"13829/2024/{name}"]["status"] for name in (TEACHERS_FILE, "表7.1 专业设置.xlsx")] == ["loaded"] * 2
    assert summary.rows_loaded["full_time_teachers"] == 3
    assert conn.sql("select distinct school_code from raw.full_time_teachers").fetchall() == [("13829",)]


def test_a_college_that_fails_as_a_whole_is_quarantined_and_the_others_load(conn, monkeypatch):
    in_process(monkeypatch)
    write_college(inbox(), "13829", 2024, ["6.1", "7.1"])
    write_college(inbox(), "13830", 2024, ["6.1"])
    original = CollegeReader.ingest_school

    def fails_for_13829(self, deliveries, state, previous):
        original(self, deliveries, state, previous)
        if deliveries[0].school_code == "13829":
            raise MemoryError("out of memory after reading")

    monkeypatch.setattr(CollegeReader, "ingest_school", fails_for_13829)
    summary = ingest_inbox(conn, get_settings())
    assert (summary.loaded, summary.quarantined) == (1, 2)
    assert conn.sql("select distinct school_code from raw.full_time_teachers").fetchall() == [("13830",)]
    assert all("MemoryError" in row["reason_en"] for row in log_rows(conn).values() if row["school_code"] == "13829")


def fork_server_children() -> list[int]:
    server = forkserver._forkserver._forkserver_pid
    if not server:
        return []
    children = Path(f"/proc/{server}/task/{server}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def test_a_worker_killed_mid_run_is_replaced_and_its_colleges_read_in_process(monkeypatch):
    use_pool(monkeypatch)
    schools = [f"{13829 + n}" for n in range(8)]
    for school in schools:
        write_college(inbox(), school, 2024, ["6.1", "7.1", "7.2"], rows=30)
    killed: list[int] = []

    def kill_the_first_worker():
        if wait_until(lambda: fork_server_children(), 30):
            victim = fork_server_children()[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    messages: list[str] = []
    at = dt.datetime(2024, 11, 1, 2, 0)
    killer = threading.Thread(target=kill_the_first_worker)
    killer.start()
    with duckdb.connect() as connection:
        summary = ingest_inbox(connection, get_settings(), log=messages.append, ingested_at=at)
        pooled = connection.sql("select * from raw.full_time_teachers order by all").fetchall()
    killer.join()
    assert killed and not alive(killed[0])
    assert any("改在主进程中读取" in message for message in messages)
    assert (summary.loaded, summary.quarantined) == (3 * len(schools), 0)
    monkeypatch.setenv("ZHENGAI_INGEST_WORKERS", "1")
    with duckdb.connect() as connection:
        ingest_inbox(connection, get_settings(), ingested_at=at)
        assert connection.sql("select * from raw.full_time_teachers order by all").fetchall() == pooled


# -- no orphans -----------------------------------------------------------------------------------


RUN_SCRIPT = textwrap.dedent("""
    import duckdb
    from pipelines.ingest import ingest_inbox
    from pipelines.settings import get_settings

    with duckdb.connect() as conn:
        ingest_inbox(conn, get_settings(), log=lambda message: print(message, flush=True))
    print("done", flush=True)
""")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_no_process_of_a_killed_run_is_left(monkeypatch, how):
    use_pool(monkeypatch)
    for n in range(10):
        write_college(inbox(), f"{13829 + n}", 2024, ["6.1", "7.1", "7.2"], rows=40)
    run = subprocess.Popen(
        [sys.executable, "-c", RUN_SCRIPT],
        cwd=PROJECT_ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        first = run.stdout.readline()  # the first college read by a worker has been merged
        assert first and first != "done\n"
        members = session_members(run.pid)
        assert len(members) >= 3  # the run, its fork server and at least one worker
        os.kill(run.pid, how)
        run.wait(10)
        assert wait_until(lambda: not session_members(run.pid), 10), session_members(run.pid)
    finally:
        run.kill()
        run.wait()
        for pid in session_members(run.pid):
            os.kill(pid, signal.SIGKILL)


def test_the_workers_end_with_a_run_that_fails(conn, monkeypatch):
    use_pool(monkeypatch)
    for n in range(6):
        write_college(inbox(), f"{13829 + n}", 2024, ["6.1", "7.1"])
    seen: list[int] = []
    original = Ingest.merge

    def fail_on_the_second_chunk(self, result):
        seen.append(result.process[0])
        seen.append(forkserver._forkserver._forkserver_pid)
        if len(seen) > 2:
            raise OSError("disk full")
        original(self, result)

    monkeypatch.setattr(Ingest, "merge", fail_on_the_second_chunk)
    with pytest.raises(OSError, match="disk full"):
        ingest_inbox(conn, get_settings())
    assert os.getpid() not in seen[::2]  # workers read the chunks
    assert wait_until(lambda: not any(alive(pid) for pid in seen), 5)
    assert forkserver._forkserver._forkserver_pid is None


# -- bounded memory per file ----------------------------------------------------------------------


def test_a_shared_strings_bomb_is_refused_before_it_is_opened(conn):
    write_college(inbox(), "13829", 2024, ["7.1"])
    write_shared_strings_bomb(inbox() / "13829" / "2024" / TEACHERS_FILE, 100 * 1024 * 1024)
    summary = ingest_inbox(conn, get_settings())
    assert (summary.loaded, summary.quarantined) == (1, 1)
    reason = log_rows(conn)[f"13829/2024/{TEACHERS_FILE}"]["reason"]
    assert "解压后过大" in reason and "xl/sharedStrings.xml" in reason and "ZHENGAI_WORKBOOK_MAX_BYTES" in reason


def test_workbook_limits_are_settings(conn, monkeypatch):
    write_college(inbox(), "13829", 2024, ["6.1"])
    assert ingest_inbox(conn, get_settings()).loaded == 1  # a normal export is well within the limits
    monkeypatch.setenv("ZHENGAI_WORKBOOK_MAX_BYTES", "10000")
    write_college(inbox(), "13830", 2024, ["6.1"])
    assert ingest_inbox(conn, get_settings()).quarantined == 1
    assert "10000 字节" in log_rows(conn)[f"13830/2024/{TEACHERS_FILE}"]["reason"]


def test_a_file_over_the_size_limit_is_never_read(conn, monkeypatch):
    monkeypatch.setenv("ZHENGAI_FILE_MAX_BYTES", "20000")
    write_college(inbox(), "13829", 2024, ["7.1"])
    (inbox() / "13829" / "2024" / "6-1 校内专任教师.csv").write_bytes(b"x" * 30000)
    summary = ingest_inbox(conn, get_settings())
    assert (summary.loaded, summary.quarantined) == (1, 1)
    row = log_rows(conn)["13829/2024/6-1 校内专任教师.csv"]
    assert "30000 字节" in row["reason"] and row["file_sha256"] is None and row["archived_path"] is None
    assert not (get_settings().quarantine / "13829" / "2024" / "6-1 校内专任教师.csv").exists()


def test_a_csv_line_or_grid_beyond_the_limits_is_refused(conn, monkeypatch):
    write_csv(inbox() / "13829" / "2024" / "6-1 校内专任教师.csv", TEACHERS, sample_rows(TEACHERS, 5))
    long_line = inbox() / "13830" / "2024" / "6-1 校内专任教师.csv"
    write_csv(long_line, TEACHERS, sample_rows(TEACHERS, 5))
    long_line.write_bytes(long_line.read_bytes() + b"1," * 40000 + b"\r\n")  # line 8: 80,000 bytes
    summary = ingest_inbox(conn, get_settings())
    assert (summary.loaded, summary.quarantined) == (1, 1)
    assert "CSV 第 8 行长达 80000 字节" in log_rows(conn)["13830/2024/6-1 校内专任教师.csv"]["reason"]
    monkeypatch.setenv("ZHENGAI_CSV_MAX_CELLS", "50")  # 7 lines × 13 columns
    write_csv(inbox() / "13831" / "2024" / "6-1 校内专任教师.csv", TEACHERS, sample_rows(TEACHERS, 5))
    ingest_inbox(conn, get_settings())
    assert "ZHENGAI_CSV_MAX_CELLS" in log_rows(conn)["13831/2024/6-1 校内专任教师.csv"]["reason"]


# -- no symlinks followed -------------------------------------------------------------------------


def test_symlinks_fifos_and_linked_folders_are_quarantined_never_opened(conn, tmp_path):
    write_college(inbox(), "13829", 2024, ["6.1"])
    write_college(inbox(), "13830", 2024, ["7.1"])
    year = inbox() / "13829" / "2024"
    (year / "表7.1 专业设置.xlsx").symlink_to(inbox() / "13830" / "2024" / "表7.1 专业设置.xlsx")
    (year / "表9.1 招生.csv").symlink_to("/etc/passwd")
    os.mkfifo(year / "表9.2 就业.csv")
    elsewhere = tmp_path / "elsewhere"
    write_college(elsewhere, "13831", 2024, ["6.1"])
    (inbox() / "13831").symlink_to(elsewhere / "13831", target_is_directory=True)
    summary = ingest_inbox(conn, get_settings())
    log = log_rows(conn)
    assert (summary.loaded, summary.quarantined) == (2, 4)
    for source in ("13829/2024/表7.1 专业设置.xlsx", "13829/2024/表9.1 招生.csv", "13829/2024/表9.2 就业.csv", "13831"):
        assert log[source]["status"] == "quarantined" and log[source]["file_sha256"] is None, source
    assert "是符号链接" in log["13829/2024/表9.1 招生.csv"]["reason"]
    assert "是命名管道（FIFO）" in log["13829/2024/表9.2 就业.csv"]["reason"]
    assert "13831 是符号链接" in log["13831"]["reason"]
    assert conn.sql("select distinct school_code from raw.majors").fetchall() == [("13830",)]
    quarantine = get_settings().quarantine
    assert sorted(p.name for p in (quarantine / "13829" / "2024").iterdir()) == [
        "表7.1 专业设置.xlsx.reason.txt",
        "表9.1 招生.csv.reason.txt",
        "表9.2 就业.csv.reason.txt",
    ]
    archived = [p.read_bytes() for p in get_settings().archive.rglob("*") if p.is_file()]
    assert archived and not any(b"root:" in data for data in archived)


def test_archive_and_quarantine_are_private(conn):
    write_college(inbox(), "13829", 2024, ["6.1"])
    (inbox() / "13829" / "2024" / "notes.docx").write_bytes(b"word")
    ingest_inbox(conn, get_settings())
    for root in (get_settings().archive, get_settings().quarantine):
        for path in [root, *root.rglob("*")]:
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    assert len(list(get_settings().quarantine.rglob("*"))) == 4  # 13829/, 2024/, the copy, its reason


def test_discovery_never_follows_a_link_to_a_folder(tmp_path):
    write_college(tmp_path / "elsewhere", "13829", 2024, ["6.1"])
    root = get_settings().inbox
    (root / "13830").mkdir(parents=True)
    (root / "13830" / "2024").symlink_to(tmp_path / "elsewhere" / "13829" / "2024", target_is_directory=True)
    (found,) = discover(root, IngestLimits.from_env())
    assert (found.source_file, found.readable, found.school_code) == ("13830/2024", False, "13830")


# -- formulas without a calculated value ----------------------------------------------------------


def test_formulas_without_a_calculated_value_are_reported_as_such(conn):
    rows = sample_rows(TEACHERS, 4)
    rows[1]["teaching_hours"] = "=300+20"
    rows[2]["teaching_hours"] = "=SUM(1,2)"
    uncalculated = write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, rows)
    strip_formula_values(uncalculated)
    write_xlsx(inbox() / "13830" / "2024" / TEACHERS_FILE, TEACHERS, rows)  # cached values written: no note
    summary = ingest_inbox(conn, get_settings())
    assert (summary.loaded, summary.quarantined) == (2, 0)
    log = log_rows(conn)
    note = log[f"13829/2024/{TEACHERS_FILE}"]["reason"]
    position = 1 + [c.name for c in TEACHERS.columns].index("teaching_hours")  # after the 序号 column
    column = chr(ord("A") + position) if position < 26 else "A" + chr(ord("A") + position - 26)
    assert note.startswith("公式未计算：请在 Excel 中打开并保存后重新导出") and f"{column}5、{column}6" in note
    assert log[f"13830/2024/{TEACHERS_FILE}"]["reason"] is None
    loaded = conn.sql("select teaching_hours from raw.full_time_teachers where school_code = '13829' order by row_no")
    assert [value for (value,) in loaded.fetchall()] == [
        rows[0]["teaching_hours"],
        None,
        None,
        rows[3]["teaching_hours"],
    ]
    assert ingest_inbox(conn, get_settings()).unchanged == 2  # the note stays on the unchanged file
    assert log_rows(conn)[f"13829/2024/{TEACHERS_FILE}"]["reason"] == note


# -- everything at once, with the pool ------------------------------------------------------------


def test_every_bad_item_beside_good_deliveries_with_the_pool(conn, monkeypatch, tmp_path):
    use_pool(monkeypatch)
    good = [f"{13900 + n}" for n in range(4)]
    for school in good:
        write_college(inbox(), school, 2024, ["6.1", "7.1"])
    bad = inbox() / "13829" / "2024"
    write_college(inbox(), "13829", 2024, ["7.1"])
    write_xlsx(inbox() / "13829" / TEACHERS_FILE, TEACHERS, sample_rows(TEACHERS, 2))  # misplaced
    (inbox() / "13829_2024.zip").write_bytes(b"PK\x03\x04 not a zip")  # corrupt zip
    make_zip(inbox() / "1382_2024.zip", {TEACHERS_FILE: b"x"})  # misnamed zip
    make_zip(inbox() / "13830_2024.zip", {"../../evil.xlsx": b"x"})  # unsafe zip
    make_zip(inbox() / "13831_2024.zip", {TEACHERS_FILE: b"\0" * (20 * 1024 * 1024)})  # over the zip ratio
    write_csv_with_open_quote(
        bad / "6-2 校内兼课人员.csv", CATALOG.by_code("6.2"), sample_rows(CATALOG.by_code("6.2"), 30), 6
    )
    write_csv_with_open_quote(
        bad / "6-3 校外兼职教师.csv",
        CATALOG.by_code("6.3"),
        sample_rows(CATALOG.by_code("6.3"), 30),
        6,
        padding=140_000,
    )
    long_name = "表8.1 管理文件" + "很长的说明" * 15 + ".docx"
    (bad / long_name).write_bytes(b"word")
    write_shared_strings_bomb(bad / TEACHERS_FILE, 100 * 1024 * 1024)
    (bad / "表9.1 招生.csv").symlink_to("/etc/passwd")
    (bad / "表7.2 课程设置.xlsx").symlink_to(inbox() / good[0] / "2024" / "表7.1 专业设置.xlsx")
    os.mkfifo(bad / "表9.2 就业.csv")
    write_college(tmp_path / "elsewhere", "13832", 2024, ["6.1"])
    (inbox() / "13832").symlink_to(tmp_path / "elsewhere" / "13832", target_is_directory=True)
    rows = sample_rows(MAJORS, 3)
    rows[0]["enrolled_students"] = "=100+20"
    strip_formula_values(write_xlsx(inbox() / good[1] / "2024" / "表7.1 专业设置.xlsx", MAJORS, rows))
    seen_server: list[int] = []
    summary = ingest_inbox(
        conn, get_settings(), log=lambda _: seen_server.append(forkserver._forkserver._forkserver_pid)
    )

    workers = set(summary.processes) - {os.getpid()}
    assert workers  # the pool ran
    log = log_rows(conn)
    for school in good:
        for name in (TEACHERS_FILE, "表7.1 专业设置.xlsx"):
            assert log[f"{school}/2024/{name}"]["status"] == "loaded", (school, name)
    assert log["13829/2024/表7.1 专业设置.xlsx"]["status"] == "loaded"
    expected = {
        f"13829/{TEACHERS_FILE}": "文件位置不符合约定",
        "13829_2024.zip": "已损坏",
        "1382_2024.zip": "压缩包名称应为",
        "13830_2024.zip": "文件夹之外",
        "13831_2024.zip": "解压后过大",
        "13829/2024/6-2 校内兼课人员.csv": "CSV 第 6 行起无法按 CSV 读取",
        "13829/2024/6-3 校外兼职教师.csv": "CSV 第 6 行起无法按 CSV 读取",
        f"13829/2024/{long_name}": "不支持的文件格式 .docx",
        f"13829/2024/{TEACHERS_FILE}": "sharedStrings.xml",
        "13829/2024/表9.1 招生.csv": "是符号链接",
        "13829/2024/表7.2 课程设置.xlsx": "是符号链接",
        "13829/2024/表9.2 就业.csv": "是命名管道（FIFO）",
        "13832": "是符号链接",
    }
    for source, reason in expected.items():
        assert log[source]["status"] == "quarantined" and reason in log[source]["reason"], (
            source,
            log[source]["reason"],
        )
    assert summary.quarantined == len(expected)
    assert log[f"{good[1]}/2024/表7.1 专业设置.xlsx"]["reason"].startswith("公式未计算")
    assert (get_settings().quarantine / "13829" / "2024" / bounded_name(long_name, ".reason.txt")).is_file()
    assert conn.sql("select count(distinct school_code) from raw.full_time_teachers").fetchone()[0] == len(good)
    assert not any(alive(pid) for pid in workers | set(seen_server))  # no process of the run is left
    assert forkserver._forkserver._forkserver_pid is None


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path
