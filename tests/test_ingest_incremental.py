"""The incremental ingest: a file listed as a committed run hashed it (size, mtime, ctime, inode) is not
read again; a listing that changed costs a hash, and a new load only when the bytes changed; what a
run trusts is recorded only with its committed rows; per college-year fingerprints follow the inputs."""

from __future__ import annotations

import os
import time
import zipfile
from dataclasses import replace
from multiprocessing import forkserver
from pathlib import Path

import duckdb
import pytest

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
    write_csv,
    write_xlsx,
    xlsx_bytes,
)
from pipelines import listing as listing_module
from pipelines.catalog import load_catalog
from pipelines.files import CTIME_TICK_NS
from pipelines.ingest import Delivery, Ingest, ingest_inbox
from pipelines.ingest.discover import TrustedFolder, discover, discover_trusting
from pipelines.ingest.stamps import stamps_known
from pipelines.listing import list_inbox
from pipelines.settings import IngestLimits, get_settings

CATALOG = load_catalog()
TEACHERS = CATALOG.by_code("6.1")
AN_HOUR_AGO = time.time() - 3600


def delivered(at: float = AN_HOUR_AGO) -> list[Path]:
    """Every inbox file, dated `at` (a delivery copied in earlier), its ctime (now: set by utime)
    left to age past the clock tick within which a listing is racily clean (`stamps.racy`)."""
    files = sorted(path for path in inbox().rglob("*") if path.is_file())
    for path in files:
        os.utime(path, (at, at))
    time.sleep(CTIME_TICK_NS / 1e9)
    return files


def counting_reads(monkeypatch) -> list[str]:
    """The deliveries whose bytes this process reads, through the one reading function."""
    reads: list[str] = []
    original = Delivery.read_with_stat

    def counted(self, limits):
        reads.append(self.source_file)
        return original(self, limits)

    monkeypatch.setattr(Delivery, "read_with_stat", counted)
    return reads


def recorded(conn) -> dict[str, tuple]:
    rows = conn.sql("select source_file, file_size, mtime_ns, file_sha256 from raw.ingest_files").fetchall()
    return {source: rest for source, *rest in rows}


def use_pool(monkeypatch) -> None:
    monkeypatch.setenv("ZHENGAI_INGEST_WORKERS", "2")
    monkeypatch.setenv("ZHENGAI_INGEST_POOL_MIN_SCHOOLS", "2")
    monkeypatch.setenv("ZHENGAI_INGEST_CHUNK_BYTES", "1")  # a college with bytes to read is a task of its own


def test_an_unchanged_inbox_is_listed_not_read(conn, monkeypatch):
    use_pool(monkeypatch)
    write_college(inbox(), "13829", 2024, ["6.1", "7.1", "9.2"])
    write_college(inbox(), "13830", 2024, ["6.1"])
    write_college(inbox(), "13831", 2024, ["6.1"])
    files = delivered()
    first = run(conn)
    before = snapshot(conn)
    assert first.files_read == len(files) == first.loaded
    assert os.getpid() not in first.processes  # the workers read the first run
    reads = counting_reads(monkeypatch)
    second = run(conn)
    assert (second.loaded, second.unchanged, second.quarantined, second.files_read) == (0, len(files), 0, 0)
    assert reads == []
    assert set(second.processes) <= {os.getpid()}  # nothing to read: no worker is started
    assert forkserver._forkserver._forkserver_pid is None
    assert snapshot(conn) == before
    assert {row["status"] for row in log_rows(conn)} == {"unchanged"}


def test_the_worker_pool_reads_only_the_changed_college(conn, monkeypatch):
    for school in ("13829", "13830", "13831", "13832"):
        write_college(inbox(), school, 2024, ["6.1", "7.1"])
    files = delivered()
    use_pool(monkeypatch)
    run(conn)
    write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, sample_rows(TEACHERS, 5, seed=4))
    delivered(AN_HOUR_AGO + 60)  # every file's times move: all are hashed, only one is loaded
    touched = run(conn)
    assert (touched.loaded, touched.unchanged, touched.files_read) == (1, len(files) - 1, len(files))
    write_xlsx(inbox() / "13830" / "2024" / TEACHERS_FILE, TEACHERS, sample_rows(TEACHERS, 2, seed=5))
    os.utime(inbox() / "13830" / "2024" / TEACHERS_FILE, (AN_HOUR_AGO, AN_HOUR_AGO))
    summary = run(conn)
    assert (summary.loaded, summary.unchanged, summary.files_read) == (1, len(files) - 1, 1)
    # only 13830 is handed to a reader (one college: in this process); the others are left as they are
    assert summary.chunks_read == {os.getpid(): 1} and summary.schools == {"13829", "13830", "13831", "13832"}
    assert teachers(conn, "13830").height == 2 and teachers(conn, "13829").height == 5


def test_a_touched_identical_file_is_hashed_not_loaded_again(conn, monkeypatch):
    path = write_xlsx(inbox() / "13829" / "2024" / TEACHERS_FILE, TEACHERS, teacher_rows())
    delivered()
    run(conn)
    before, stamps = snapshot(conn), recorded(conn)
    assert delivered(AN_HOUR_AGO + 60) == [path]  # its ctime aged past the racy window, as in a nightly
    reads = counting_reads(monkeypatch)
    touched = run(conn)
    assert (touched.loaded, touched.unchanged, touched.files_read, reads) == (0, 1, 1, [f"13829/2024/{TEACHERS_FILE}"])
    assert snapshot(conn) == before
    (source,) = stamps
    assert recorded(conn)[source][1] != stamps[source][1] and recorded(conn)[source][2] == stamps[source][2]
    assert run(conn).files_read == 0  # the new listing is remembered


def test_same_size_and_restored_mtime_is_still_seen_by_its_ctime(conn):
    rows = teacher_rows()
    path = write_csv(inbox() / "13829" / "2024" / "6-1 校内专任教师.csv", TEACHERS, rows)
    delivered()
    run(conn)
    size = path.stat().st_size
    rows[0]["name"] = "李四" if rows[0]["name"] != "李四" else "王五"  # same length in UTF-8
    write_csv(path, TEACHERS, rows)
    os.utime(path, (AN_HOUR_AGO, AN_HOUR_AGO))  # as `cp -p` or `touch -r` would leave it
    assert path.stat().st_size == size
    summary = run(conn)
    assert (summary.loaded, summary.files_read) == (1, 1)
    assert rows[0]["name"] in teachers(conn)["name"].to_list()


def test_rehash_reads_every_file(conn, monkeypatch):
    write_college(inbox(), "13829", 2024, ["6.1", "7.1"])
    files = delivered()
    run(conn)
    monkeypatch.setenv("ZHENGAI_INGEST_REHASH", "1")
    summary = run(conn)
    assert (summary.unchanged, summary.files_read) == (len(files), len(files))


def test_a_file_changed_just_before_the_listing_is_not_trusted_next_time(conn, monkeypatch):
    write_college(inbox(), "13829", 2024, ["6.1", "7.1", "9.2"])
    delivered()
    os.utime(inbox() / "13829" / "2024" / TEACHERS_FILE)  # modified now: racily clean if recorded
    copied = inbox() / "13829" / "2024" / "表7.1 专业设置.xlsx"
    os.utime(copied, (AN_HOUR_AGO, AN_HOUR_AGO))  # an old mtime, as `cp -p` leaves it: the ctime is now
    # The listing is taken within the clock tick of that change, as on a quiet machine: a loaded one
    # may take longer than a tick to get from the utime above to the listing.
    listed_at = copied.stat().st_ctime_ns + CTIME_TICK_NS // 2
    with monkeypatch.context() as clock:
        clock.setattr(listing_module.time, "time_ns", lambda: listed_at)
        run(conn)
    assert [Path(source).name for source in recorded(conn)] == ["表9.2 就业.xlsx"]
    assert run(conn).files_read == 2


def test_a_failed_run_records_nothing_and_the_next_one_reads_again(conn, monkeypatch):
    for school in ("13829", "13830"):
        write_college(inbox(), school, 2024, ["6.1"])
    files = delivered()
    monkeypatch.setenv("ZHENGAI_INGEST_WORKERS", "1")
    monkeypatch.setenv("ZHENGAI_INGEST_CHUNK_BYTES", "1")
    monkeypatch.setenv("ZHENGAI_INGEST_BATCH_ROWS", "1")  # a write after each college
    original = Ingest.merge
    merged = []

    def fail_on_the_second_college(self, result):
        if merged:
            raise OSError("disk full")
        merged.append(result)
        original(self, result)

    monkeypatch.setattr(Ingest, "merge", fail_on_the_second_college)
    with pytest.raises(OSError, match="disk full"):
        run(conn)
    assert conn.sql("select count(*) from raw.ingest_files").fetchone()[0] == 0
    monkeypatch.setattr(Ingest, "merge", original)
    summary = run(conn)
    assert (summary.loaded, summary.files_read) == (len(files), len(files))


def test_a_trusted_file_is_read_when_its_table_must_be_mapped_again(conn, monkeypatch):
    write_college(inbox(), "13829", 2024, ["6.1", "7.1"])
    delivered()
    run(conn)
    conn.execute("update raw.ingest_log set mapping_fingerprint = 'older headers' where table_code = '6.1'")
    reads = counting_reads(monkeypatch)
    summary = run(conn)
    assert (summary.loaded, summary.unchanged, reads) == (1, 1, [f"13829/2024/{TEACHERS_FILE}"])


def test_a_trusted_file_whose_bytes_differ_when_read_is_quarantined_then_read_again(conn):
    write_college(inbox(), "13829", 2024, ["6.1"])
    delivered()
    run(conn)
    before = snapshot(conn)
    # what a listing that fooled the check would do: the recorded sha256 is not the file's
    conn.execute("update raw.ingest_files set file_sha256 = repeat('0', 64)")
    summary = run(conn)
    assert (summary.quarantined, summary.loaded) == (1, 0)
    (row,) = log_rows(conn)
    assert "被改写" in row["reason"] and "rewritten" in row["reason_en"]
    assert snapshot(conn)["full_time_teachers"] == before["full_time_teachers"]
    again = run(conn)  # a quarantined file is never trusted: read, and its rows replace the ones kept
    assert (again.loaded, again.files_read) == (1, 1)
    assert without_load_time(snapshot(conn)) == without_load_time(before)


def test_a_quarantined_file_is_read_again_each_run(conn):
    write_college(inbox(), "13829", 2024, ["7.1"])
    (inbox() / "13829" / "2024" / TEACHERS_FILE).write_bytes(b"not a workbook")
    delivered()
    assert run(conn).quarantined == 1
    summary = run(conn)
    assert (summary.quarantined, summary.unchanged, summary.files_read) == (1, 1, 1)


def test_an_unchanged_zip_is_not_read_and_a_repacked_one_is(conn, tmp_path):
    majors = CATALOG.by_code("7.1")
    members = {
        "表6.1 校内专任教师.xlsx": xlsx_bytes(tmp_path, TEACHERS, teacher_rows()),
        "表7.1 专业设置.xlsx": xlsx_bytes(tmp_path, majors, sample_rows(majors, 4)),
    }
    zip_path = make_zip(inbox() / "13829_2024.zip", members)
    delivered()
    run(conn)
    assert run(conn).files_read == 0
    members["表7.1 专业设置.xlsx"] = xlsx_bytes(tmp_path, majors, sample_rows(majors, 2, seed=3))
    zip_path.unlink()
    make_zip(zip_path, members, compression=zipfile.ZIP_STORED)
    delivered()
    summary = run(conn)
    assert (summary.loaded, summary.unchanged, summary.files_read) == (1, 1, 2)
    assert conn.sql("select count(*) from raw.majors").fetchone()[0] == 2


def test_a_missing_or_cut_archive_copy_is_written_again_from_the_inbox(conn):
    write_college(inbox(), "13829", 2024, ["6.1"])
    delivered()
    run(conn)
    (archived,) = [get_settings().home / row["archived_path"] for row in log_rows(conn)]
    archived.unlink()
    summary = run(conn)
    assert (summary.unchanged, summary.files_read) == (1, 1)
    original = (inbox() / "13829" / "2024" / TEACHERS_FILE).read_bytes()
    assert archived.read_bytes() == original
    archived.write_bytes(original[:100])  # what a crash may leave of a copy not yet flushed
    assert run(conn).files_read == 1
    assert archived.read_bytes() == original


def fingerprints(conn) -> dict[tuple[str, int], tuple]:
    rows = conn.sql("select school_code, year, fingerprint, log_fingerprint, files from raw.college_year_inputs")
    return {(school, year): rest for school, year, *rest in rows.fetchall()}


def test_college_year_fingerprints_change_only_where_the_inputs_did(conn):
    write_college(inbox(), "13829", 2024, ["6.1", "7.1"])
    write_college(inbox(), "13829", 2023, ["6.1"])
    write_college(inbox(), "13830", 2024, ["6.1"])
    delivered()
    run(conn)
    first = fingerprints(conn)
    assert set(first) == {("13829", 2023), ("13829", 2024), ("13830", 2024)} and first[("13829", 2024)][2] == 2
    run(conn)
    assert fingerprints(conn) == first  # an unchanged run (status `unchanged`) moves nothing
    write_xlsx(inbox() / "13830" / "2024" / TEACHERS_FILE, TEACHERS, sample_rows(TEACHERS, 2, seed=9))
    run(conn)
    changed = fingerprints(conn)
    assert {key for key in first if changed[key] != first[key]} == {("13830", 2024)}
    assert changed[("13830", 2024)][0] != first[("13830", 2024)][0]
    (inbox() / "13829" / "2023" / "表9.2 其他.xlsx").write_bytes(b"broken")  # a quarantined file: log only
    run(conn)
    quarantined = fingerprints(conn)
    assert quarantined[("13829", 2023)][0] == changed[("13829", 2023)][0]
    assert quarantined[("13829", 2023)][1] != changed[("13829", 2023)][1]


def test_the_ingest_tables_survive_a_second_connection(tmp_path):
    write_college(inbox(), "13829", 2024, ["6.1"])
    delivered()
    path = str(tmp_path / "work.duckdb")
    with duckdb.connect(path) as first:
        ingest_inbox(first, get_settings())
    with duckdb.connect(path) as second:
        assert ingest_inbox(second, get_settings()).files_read == 0


def test_a_refused_file_taken_out_of_the_inbox_leaves_the_log_a_loaded_one_stays(conn):
    write_college(inbox(), "13829", 2024, ["6.1", "7.1"])
    broken = inbox() / "13829" / "2024" / "表9.2 其他.xlsx"
    broken.write_bytes(b"broken")
    delivered()
    run(conn)
    logged = "select source_file, status from raw.ingest_log where school_code = '13829' order by all"
    before = conn.execute(logged).fetchall()
    assert ("13829/2024/表9.2 其他.xlsx", "quarantined") in before
    broken.unlink()
    (inbox() / "13829" / "2024" / TEACHERS_FILE).unlink()
    run(conn)
    after = conn.execute(logged).fetchall()
    assert [file for file, _ in after] == [file for file, status in before if status != "quarantined"]
    assert teachers(conn, "13829").height > 0  # the archive is the record of a delivered, loaded file


def test_a_college_folder_listed_as_loaded_is_trusted_whole_and_discovered_as_discover_finds_it(conn):
    """A nightly's shortcut (`discover_trusting`): a college folder whose files are all listed as a
    committed run hashed them gets no delivery per file unless it is read, then exactly the ones
    `discover` makes; a new, rewritten, misplaced or (under a lower limit) too large file leaves the
    folder to `discover`."""
    for school in ("13829", "13830", "13832"):
        write_college(inbox(), school, 2024, ["6.1", "7.1"])
    write_xlsx(inbox() / "13831" / "2024" / "第二批" / TEACHERS_FILE, TEACHERS, teacher_rows())
    delivered()
    run(conn)
    write_college(inbox(), "13830", 2024, ["9.2"])  # a new file
    rewritten = inbox() / "13832" / "2024" / TEACHERS_FILE
    rewritten.write_bytes(rewritten.read_bytes())  # the same bytes, a new listing
    write_csv(inbox() / "13829" / "说明.csv", TEACHERS, teacher_rows())  # misplaced: not under a year
    make_zip(
        inbox() / "13833_2024.zip",
        {TEACHERS_FILE: (inbox() / "13831" / "2024" / "第二批" / TEACHERS_FILE).read_bytes()},
    )
    (inbox() / "13831" / "2024" / ".~lock.xlsx#").write_bytes(b"")  # ignored, as `discover` ignores it
    known, listing, limits = stamps_known(conn), list_inbox(inbox()), IngestLimits.from_env()
    expected = discover(inbox(), limits, listing)
    ingest = Ingest(conn, get_settings())
    ingest.trust_listings(expected, known, listing.listed_at)
    for each, trusted in ((limits, {"13831"}), (replace(limits, file_max_bytes=100), set())):
        found = discover_trusting(inbox(), each, listing, known)
        assert {group.school for group in found if isinstance(group, TrustedFolder)} == trusted
        made = [d for group in found for d in (group if isinstance(group, list) else group.deliveries(inbox(), each))]
        assert made == discover(inbox(), each, listing)
    (folder,) = [
        group for group in discover_trusting(inbox(), limits, listing, known) if isinstance(group, TrustedFolder)
    ]
    deliveries = [d for d in expected if d.school_code == "13831"]
    assert deliveries and all(d.known_sha for d in deliveries)
    assert folder.sources == [d.source_file for d in deliveries] and folder.shas == [d.known_sha for d in deliveries]
    assert folder.archived == [d.known_sha + d.suffix for d in deliveries] and folder.sizes == [
        d.size for d in deliveries
    ]
