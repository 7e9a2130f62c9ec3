"""What keeps one delivery from costing the nightly run (used by `pipelines.ingest`).

- `Problem`: why a file cannot be used, in Chinese and English; it crosses the worker processes.
- Limits checked before a file is parsed: the file's size, a workbook's members as a zip
  delivery's (uncompressed size and ratio, shared strings included), a CSV's line length and cell
  count (settings `IngestLimits`, env `ZHENGAI_…`).
- Honest CSV reading: a quote left open or a field that swallowed whole rows is named by its line.
- Inbox entries are never followed: a symlink, FIFO or device is only described, never opened.
- Archive and quarantine are private to the pipeline's user (directories 0700, files 0600) and
  their file names fit the file system's 255-byte limit.
- Worker processes end with the run, even when the run is killed with `kill -9`.
"""

from __future__ import annotations

import csv
import ctypes
import hashlib
import html
import io
import os
import posixpath
import re
import signal
import stat
import struct
import sys
import time
import zipfile
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import forkserver
from pathlib import Path

from pipelines.files import NAME_MAX, atomic_write_bytes
from pipelines.settings import IngestLimits

RATIO_FLOOR = 1024 * 1024  # members smaller than this cannot hurt, whatever their ratio


@dataclass(frozen=True)
class Problem(Exception):
    """Why a file cannot be used: `zh` for the college and the secretariat, `en` beside it."""

    zh: str
    en: str

    def __reduce__(self):
        # Exception's own pickling rebuilds the object by setting attributes, which a frozen
        # dataclass refuses: a Problem sent to or from a worker would break the pool
        return type(self), (self.zh, self.en)

    def __str__(self) -> str:
        return self.en


def unexpected(name: str, error: BaseException) -> Problem:
    """A failure nobody foresaw while handling one file: that file is quarantined, the run goes on.
    A Problem raised deep inside (a trusted file found rewritten when read) is its own reason."""
    if isinstance(error, Problem):
        return error
    detail = f"{type(error).__name__}: {error}"[:300]
    return Problem(
        f"处理文件 {name} 时出错（{detail}）：该文件已隔离，其他文件照常载入；请检查文件后重新提交，如仍出错请联系数据管理员",
        f"unexpected error while handling {name} ({detail}): the file was quarantined and the others loaded; "
        "check the file and deliver it again, or ask the data officers if it persists",
    )


# ---------------------------------------------------------------------------------------------
# Inbox entries: regular files only


SPECIAL_KINDS = (
    (stat.S_ISLNK, "符号链接", "symbolic link"),
    (stat.S_ISFIFO, "命名管道（FIFO）", "FIFO (named pipe)"),
    (stat.S_ISCHR, "字符设备文件", "character device"),
    (stat.S_ISBLK, "块设备文件", "block device"),
    (stat.S_ISSOCK, "套接字", "socket"),
)


def special_kind(mode: int) -> tuple[str, str] | None:
    """(zh, en) of what an inbox entry is when it is neither a regular file nor a directory."""
    return next(((zh, en) for test, zh, en in SPECIAL_KINDS if test(mode)), None)


def special_problem(relative: str, kind: tuple[str, str]) -> Problem:
    return Problem(
        f"{relative} 是{kind[0]}，不是普通文件：为安全起见未打开、未复制。请把文件本身（而不是链接或快捷方式）放入 inbox",
        f"{relative} is a {kind[1]}, not a regular file: for safety it was neither opened nor copied. "
        "Put the file itself (not a link) in the inbox",
    )


def too_large(name: str, size: int, limits: IngestLimits) -> Problem:
    return Problem(
        f"文件 {name} 有 {size} 字节，超过单个文件上限 {limits.file_max_bytes} 字节（ZHENGAI_FILE_MAX_BYTES），"
        "为防止耗尽内存未读取：请只提交平台导出的表格文件",
        f"file {name} has {size} bytes, above the limit of {limits.file_max_bytes} (ZHENGAI_FILE_MAX_BYTES); "
        "not read: deliver only the tables exported by the platform",
    )


def open_regular(path: Path, name: str) -> io.BufferedReader:
    """An inbox file opened for reading only if it is a regular file: the name is opened without
    following a symlink and without blocking on a FIFO, and what was opened is checked again (the
    inbox may have changed since it was listed)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if os.path.islink(path):
            raise special_problem(name, special_kind(stat.S_IFLNK)) from error
        raise
    stream = os.fdopen(fd, "rb")
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        stream.close()
        raise special_problem(name, special_kind(mode) or ("非普通文件", "non-regular file"))
    return stream


def read_regular(path: Path, name: str, limits: IngestLimits) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular inbox file (see `open_regular`) and the stat of what was read."""
    with open_regular(path, name) as stream:
        info = os.fstat(stream.fileno())
        if info.st_size > limits.file_max_bytes:
            raise too_large(name, info.st_size, limits)
        data = stream.read(info.st_size + 1)  # sized by the stat: a read of the limit would allocate all of it
        if len(data) > limits.file_max_bytes:  # it grew since the stat
            raise too_large(name, len(data), limits)
        return data, info


# ---------------------------------------------------------------------------------------------
# Workbooks: checked like zip deliveries before calamine opens them


@dataclass(frozen=True)
class Member:
    name: str
    method: int  # 0 stored, 8 deflated
    packed: int
    unpacked: int
    offset: int  # of its local header


def zip_directory(data: bytes) -> dict[str, Member]:
    """Every member of a zip held in memory, from its central directory alone (nothing is
    inflated): a plain struct walk, zipfile for what it does not cover (zip64)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65557))
    if end >= 0 and end + 22 <= len(data):
        count, size, offset = struct.unpack_from("<HII", data, end + 10)
        if count != 0xFFFF and offset != 0xFFFFFFFF and offset + size <= end:
            members, at = {}, offset
            for _ in range(count):
                if data[at : at + 4] != b"PK\x01\x02":
                    break
                method = struct.unpack_from("<H", data, at + 10)[0]
                packed, unpacked, name_length, extra_length, comment_length = struct.unpack_from(
                    "<IIHHH", data, at + 20
                )
                local = struct.unpack_from("<I", data, at + 42)[0]
                if 0xFFFFFFFF in (packed, unpacked, local):  # the real values are in a zip64 extra field
                    break
                name = data[at + 46 : at + 46 + name_length].decode("utf-8", "replace")
                members[name] = Member(name, method, packed, unpacked, local)
                at += 46 + name_length + extra_length + comment_length
            else:
                return members
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            info.filename: Member(
                info.filename, info.compress_type, info.compress_size, info.file_size, info.header_offset
            )
            for info in archive.infolist()
        }


def member_bytes(data: bytes, member: Member) -> bytes:
    """A member's bytes, inflated to at most its declared size (a member that lies about its size
    cannot grow past what `check_workbook` accepted)."""
    if data[member.offset : member.offset + 4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"no local header for {member.name}")
    start = member.offset + 30 + sum(struct.unpack_from("<HH", data, member.offset + 26))
    raw = data[start : start + member.packed]
    if member.method == 0:
        return raw[: member.unpacked]
    if member.method != 8:
        raise zipfile.BadZipFile(f"compression method {member.method} of {member.name}")
    return zlib.decompressobj(-15).decompress(raw, member.unpacked)


def check_workbook(name: str, data: bytes, limits: IngestLimits) -> None:
    """Refuse a workbook whose members would expand beyond the limits (a shared-strings bomb:
    9 MB on disk, 2.6 GB once read). An .xls (not a zip) is bounded by its file size alone; a
    workbook that is not a valid zip is left to the reader, which says it is damaged."""
    if not data.startswith(b"PK"):
        return
    try:
        members = zip_directory(data).values()
    except (zipfile.BadZipFile, struct.error, OSError, ValueError):
        return
    total = sum(m.unpacked for m in members)
    big = [(m.unpacked / max(m.packed, 1), m.name, m.unpacked) for m in members if m.unpacked >= RATIO_FLOOR]
    ratio, member, size = max(big, default=(0.0, "", 0))
    if total <= limits.workbook_max_bytes and ratio <= limits.workbook_max_ratio:
        return
    if ratio <= limits.workbook_max_ratio:
        largest = max(members, key=lambda m: m.unpacked)
        member, size = largest.name, largest.unpacked
    raise Problem(
        f"工作簿 {name} 解压后过大（其中 {member} 解压为 {size} 字节，压缩比 {ratio:.0f}；整个工作簿 {total} 字节），"
        f"超过上限（{limits.workbook_max_bytes} 字节，ZHENGAI_WORKBOOK_MAX_BYTES；压缩比 {limits.workbook_max_ratio}，"
        "ZHENGAI_WORKBOOK_MAX_RATIO），为防止耗尽内存未打开：请从平台重新导出本表后提交",
        f"workbook {name} expands too far ({member}: {size} bytes, ratio {ratio:.0f}; {total} bytes in all; limits "
        f"{limits.workbook_max_bytes} bytes, ratio {limits.workbook_max_ratio}); not opened: export the table again",
    )


# ---------------------------------------------------------------------------------------------
# CSV: bounded and read honestly


def csv_line_count(data: bytes, limits: IngestLimits) -> int:
    """The file's lines, refusing the first one longer than the limit (before anything is decoded:
    a 50 MB line would otherwise become millions of cells)."""
    terminator = b"\n" if b"\n" in data or b"\r" not in data else b"\r"
    line = start = 0
    while start < len(data):
        end = data.find(terminator, start)
        end = len(data) if end < 0 else end
        line += 1
        length = end - start - (data[end - 1 : end] == b"\r" and terminator == b"\n")
        if length > limits.csv_max_line_bytes:
            raise Problem(
                f"CSV 第 {line} 行长达 {length} 字节，超过每行上限 {limits.csv_max_line_bytes} 字节"
                "（ZHENGAI_CSV_MAX_LINE_BYTES），未读取：请从平台重新导出，或另存为 xlsx 后提交",
                f"CSV line {line} has {length} bytes, above the limit of {limits.csv_max_line_bytes} "
                "(ZHENGAI_CSV_MAX_LINE_BYTES); not read: export the table again or save it as .xlsx",
            )
        start = end + 1
    return line


def swallowed_rows(row: list[str], width: int) -> bool:
    """A cell spanning lines is fine (Excel quotes a cell with a line break), unless one of its
    lines holds a whole row's separators: then a quote left open has swallowed the rows below."""
    if width < 3:
        return False
    return any(
        line.count(",") >= width - 1 for cell in row if "\n" in cell or "\r" in cell for line in cell.splitlines()[1:]
    )


def csv_rows(text: str, lines: int, limits: IngestLimits) -> list[list[str]]:
    """Every row, or a Problem naming the line where the file stops being CSV (strict quoting: a
    quote left open to the end of the file, text after a closing quote, a field past the csv
    module's limit) or where an open quote swallowed the rows below; the grid (rows × widest row)
    is capped at `csv_max_cells`."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[list[str]] = []
    width = before = 0
    try:
        for row in reader:
            if reader.line_num - before > 1 and swallowed_rows(row, width):
                raise Problem(
                    f"CSV 第 {before + 1} 行有未成对的引号：第 {before + 1}–{reader.line_num} 行被读成了同一行"
                    f"（文件共 {lines} 行），其后的数据无法可靠读取。请删除或补齐该行的引号后重新导出",
                    f"CSV line {before + 1} opens a quote that is never closed as intended: lines {before + 1}–"
                    f"{reader.line_num} were read as one row ({lines} lines in the file); fix the quote and export again",
                )
            before = reader.line_num
            width = max(width, len(row))
            if width * (len(rows) + 1) > limits.csv_max_cells:
                raise Problem(
                    f"CSV 到第 {reader.line_num} 行已有 {len(rows) + 1} 行 × {width} 列，超过单元格上限 {limits.csv_max_cells}"
                    "（ZHENGAI_CSV_MAX_CELLS），未读取：请只提交平台导出的表格",
                    f"CSV reaches {len(rows) + 1} rows × {width} columns by line {reader.line_num}, above the limit of "
                    f"{limits.csv_max_cells} cells (ZHENGAI_CSV_MAX_CELLS); not read",
                )
            rows.append(row)
    except csv.Error as error:  # named by the line where the row that broke began (where its quote opened)
        raise Problem(
            f"CSV 第 {before + 1} 行起无法按 CSV 读取（读到第 {reader.line_num} 行时：{error}），多半是该行引号未成对"
            f"（文件共 {lines} 行，只读出 {len(rows)} 行）：请删除或补齐引号后重新导出",
            f"CSV cannot be read from line {before + 1} (at line {reader.line_num}: {error}), most likely an "
            f"unbalanced quote ({lines} lines in the file, {len(rows)} rows read): fix the quote and export again",
        ) from error
    return rows


# ---------------------------------------------------------------------------------------------
# Archive and quarantine files: private, with bounded names


def bounded_name(name: str, suffix: str = "") -> str:
    """`name + suffix` within the 255-byte limit of a file name: a longer name keeps its start and
    extension, with a hash of the whole name so that two long names never collide."""
    if len(os.fsencode(name + suffix)) <= NAME_MAX:
        return name + suffix
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:16]
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension) > 16:
        stem, extension = name, ""
    tail = f"~{digest}{'.' + extension if extension else ''}{suffix}"
    while stem and len(os.fsencode(stem + tail)) > NAME_MAX:
        stem = stem[:-1]
    return stem + tail


def private_dirs(root: Path, *parts: str) -> Path:
    """`root/part/…` for the pipeline's user only: the root made 0700, new levels created 0700."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    path = root
    for part in parts:
        path = path / part
        path.mkdir(mode=0o700, exist_ok=True)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` with `data`, readable by the pipeline's user only; never through a symlink (the
    rename replaces a link at `path`, the staging file is created new)."""
    atomic_write_bytes(path, data, mode=0o600)


# ---------------------------------------------------------------------------------------------
# Worker processes that end with the run


PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask the kernel to kill this process when its parent ends (Linux; elsewhere nothing)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def guard_worker() -> None:
    """Pool initializer: the worker dies with the run, however the run ends.

    A worker is forked by the fork server, not by the run, and inherits the write end of the pipe
    whose end-of-file tells the fork server that the run is gone. The worker closes it, so that
    the fork server exits as soon as the run does (even after `kill -9`), and asks the kernel to
    kill it when the fork server exits. Before this, workers kept the fork server alive and the
    fork server kept them: both outlived a killed run.
    """
    parent = os.getppid()
    die_with_parent()
    server = forkserver._forkserver
    if server._forkserver_alive_fd is not None:
        os.close(server._forkserver_alive_fd)
        server._forkserver_alive_fd = None
    if os.getppid() != parent:  # the parent ended before the kernel was asked to watch it
        os._exit(1)


def stop_pool(pool: ProcessPoolExecutor, graceful: bool) -> None:
    """Shut the pool down; unless `graceful`, kill its workers now instead of letting them finish
    the chunks in flight (their results are not wanted: the run failed or stopped)."""
    if graceful:
        pool.shutdown(wait=True)
        return
    # the executor offers no way to stop a running task: its processes are killed directly
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.kill()
    for process in processes:
        process.join(5)


def stop_worker_server(timeout: float = 5.0) -> None:
    """End the fork server this process started (closing its 'alive' pipe ends it), so that no
    process of the run outlives it; a later run starts a new one."""
    server = forkserver._forkserver
    with server._lock:
        pid = server._forkserver_pid
        if pid is None:
            return
        os.close(server._forkserver_alive_fd)
        deadline = time.monotonic() + timeout
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.01)
        address = server._forkserver_address
        server._forkserver_alive_fd = server._forkserver_pid = server._forkserver_address = None
        if address and not address.startswith("\0") and os.path.exists(address):
            os.unlink(address)


# ---------------------------------------------------------------------------------------------
# Formulas without a cached value (written by a library, never opened in Excel): calamine reads
# them as empty cells


FORMULA_RE = re.compile(rb"<(?:\w+:)?f[\s>/]")
CELL_RE = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.DOTALL)
REF_RE = re.compile(rb'\br="([A-Z]+)(\d+)"')
VALUE_RE = re.compile(rb"<(?:\w+:)?(?:v>[^<]|is\b)")
SHEET_RE = re.compile(r"<(?:\w+:)?sheet\b([^>]*)>")
RELATIONSHIP_RE = re.compile(r"<(?:\w+:)?Relationship\b([^>]*)>")
ATTRIBUTE_RE = re.compile(r'([\w:]+)="([^"]*)"')


def _attributes(text: str) -> dict[str, str]:
    return {
        name.rsplit(":", 1)[-1] if name != "r:id" else name: html.unescape(value)
        for name, value in ATTRIBUTE_RE.findall(text)
    }


def worksheet_member(data: bytes, directory: dict[str, Member], sheet: str) -> str | None:
    """The zip member holding the named sheet (xl/workbook.xml → its relationship → the part)."""
    workbook = member_bytes(data, directory["xl/workbook.xml"]).decode("utf-8", "replace")
    rid = next(
        (
            attrs.get("r:id") or attrs.get("id")
            for attrs in map(_attributes, SHEET_RE.findall(workbook))
            if attrs.get("name") == sheet
        ),
        None,
    )
    rels = member_bytes(data, directory["xl/_rels/workbook.xml.rels"]).decode("utf-8", "replace")
    target = next(
        (
            attrs["Target"]
            for attrs in map(_attributes, RELATIONSHIP_RE.findall(rels))
            if attrs.get("Id") == rid and "Target" in attrs
        ),
        None,
    )
    if target is None:
        return None
    return target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))


def uncomputed_formulas(data: bytes, sheet: str) -> list[tuple[int, str]]:
    """(row, column letter) of every formula cell of the sheet that has no cached value.

    The sheet's XML is inflated once (the workbook passed `check_workbook`); a sheet without any
    formula costs one search of it.
    """
    directory = zip_directory(data)
    member = worksheet_member(data, directory, sheet)
    if member not in directory:
        return []
    xml = member_bytes(data, directory[member])
    # one plain search first (the regex costs twice as much): a sheet with formulas has at least one
    # `</f>` (a shared formula's master holds its text); a sheet whose elements carry a prefix
    # (`<x:worksheet>`, written by the Open XML SDK) is searched by the regex
    if b"</f>" not in xml and (b":worksheet" not in xml[:1024] or not FORMULA_RE.search(xml)):
        return []
    cells = []
    for attributes, body in CELL_RE.findall(xml):
        if body and FORMULA_RE.search(body) and not VALUE_RE.search(body):
            ref = REF_RE.search(attributes)
            if ref:
                cells.append((int(ref.group(2)), ref.group(1).decode()))
    return cells


def formula_problem(sheet: str, cells: list[tuple[int, str]]) -> Problem:
    shown = "、".join(f"{column}{row}" for row, column in cells[:20]) + ("等" if len(cells) > 20 else "")
    rows = sorted({row for row, _ in cells})
    return Problem(
        f"公式未计算：请在 Excel 中打开并保存后重新导出（工作表“{sheet}”中 {len(cells)} 个公式单元格没有计算结果，"
        f"已按空值读取：{shown}；涉及第 {'、'.join(map(str, rows[:20]))}{'等' if len(rows) > 20 else ''} 行）",
        f"formulas not calculated: open the file in Excel, save it and export again ({len(cells)} formula cells of "
        f"sheet '{sheet}' have no calculated value and were read as empty: "
        f"{', '.join(f'{column}{row}' for row, column in cells[:20])}{' …' if len(cells) > 20 else ''})",
    )
