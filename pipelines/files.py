"""Atomic file writes: the one way the project replaces a file.

A reader (a browser, `zhengai serve`, an analyst's DuckDB session, Excel) sees the old file or the
new one, never half of one: the data goes to a temporary file in the same folder (so the rename
stays on one file system), is flushed to disk, and is renamed over the target. A file is never
rewritten in place, which also keeps hard-linked copies (the site builds, pipelines/sitebuild.py)
untouched.
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

NAME_MAX = 255  # bytes in one file name (ext4, xfs, btrfs, tmpfs)
MTIME_TICK_NS = 2_000_000_000  # FAT and some network file systems keep the mtime to 2 s
CTIME_TICK_NS = 100_000_000  # the kernel's coarse clock (1–10 ms) stamps the ctime on Linux file systems
# Files written with durable=False and not flushed since (`flush_written`): the pages of this process's site builds.
UNFLUSHED: set[str] = set()
UNFLUSHED_LOCK = threading.Lock()  # pages are written from several threads (pipelines/sitebuild.py in_background)
# fsyncs at once: each waits on the disk, and the file system commits the ones pending together (1,000 small pages:
# a second one by one, a tenth of one sixteen at a time)
FLUSH_THREADS = 16


def atomic_write(target: Path, write: Callable[[Path], object], mode: int | None = None, durable: bool = True) -> Path:
    """Replace `target` with what `write(staging_path)` writes; the folder is created if needed.

    `write` receives a path in `target`'s folder and fills it (bytes, a workbook, a copy); on any
    error the staging file is removed and `target` stays as it was. `mode` sets the permissions.
    `durable=False` skips the flush to disk (a reader still sees the old file or the new one): for
    the pages of a site build, flushed together (`flush_written`) before the build is published
    (pipelines/sitebuild.py)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(staging_name(target.name))
    # created like any new file (0666 less the umask), not mkstemp's 0600: pages are read by the web server;
    # a private file (mode 0600) is created with its mode, so it is never readable by others, not even staged
    os.close(os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else mode))
    try:
        write(staging)
        if mode is not None:
            os.chmod(staging, mode)
        if durable:
            with open(staging, "rb+") as written:
                os.fsync(written.fileno())
        os.replace(staging, target)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    if not durable:
        written_unflushed(target)
    return target


def written_unflushed(path: Path) -> None:
    """Note `path` as written without a flush: `flush_written` makes it durable."""
    with UNFLUSHED_LOCK:
        UNFLUSHED.add(os.fspath(path))


def flush_written(root: Path) -> int:
    """Make durable every file written without a flush (`durable=False`, `written_unflushed`) under `root`, and the
    folders holding them up to `root`; returns how many files. Unlike os.sync, this waits for these files only, not
    for whatever else the machine has written (a run's archive copies, another program's files)."""
    prefix = os.path.join(os.fspath(root), "")
    with UNFLUSHED_LOCK:
        files = {path for path in UNFLUSHED if path.startswith(prefix)}
        UNFLUSHED.difference_update(files)
    folders = {os.fspath(root), os.path.dirname(os.fspath(root))}  # the root's own entry too (a build renamed in)
    for path in files:
        folder = os.path.dirname(path)
        while folder.startswith(prefix) and folder not in folders:  # a new folder's entry is in its parent
            folders.add(folder)
            folder = os.path.dirname(folder)
    with ThreadPoolExecutor(FLUSH_THREADS) as pool:
        list(pool.map(fsync_path, files))
        list(pool.map(fsync_path, folders))  # the files' names (a rename is durable once its folder is)
    return len(files)


def fsync_path(path: str) -> None:
    """fsync the file or folder at `path` (gone: nothing to flush)."""
    try:
        handle = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def staging_name(name: str) -> str:
    """A hidden name beside `name`, unique to this write, within the 255-byte limit of a file name
    (a quarantined file's name may already use all of it: pipelines/ingest/guard.py bounded_name)."""
    tail = f".{os.getpid()}.{secrets.token_hex(4)}.tmp"
    while len(os.fsencode(f".{name}{tail}")) > NAME_MAX:
        name = name[:-1]
    return f".{name}{tail}"


def atomic_write_bytes(target: Path, data: bytes, mode: int | None = None, durable: bool = True) -> int:
    """Replace `target` with `data`; returns the number of bytes written."""
    atomic_write(target, lambda staging: staging.write_bytes(data), mode, durable)
    return len(data)


def atomic_write_text(target: Path, text: str, mode: int | None = None, durable: bool = True) -> int:
    """Replace `target` with `text` in UTF-8; returns the number of bytes written."""
    return atomic_write_bytes(target, text.encode("utf-8"), mode, durable)


def atomic_copy(
    source: Path, target: Path, mode: int | None = None, prepare: Callable[[Path], object] | None = None
) -> Path:
    """Replace `target` with a copy of `source`, first changed in place by `prepare(staging_path)` if given
    (the published warehouse gets its comments and views on the copy, never on the work file)."""

    def copy(staging: Path) -> None:
        shutil.copyfile(source, staging)
        if prepare is not None:
            prepare(staging)

    return atomic_write(target, copy, mode)


def atomic_write_text_if_changed(target: Path, text: str, durable: bool = True) -> bool:
    """Replace `target` with `text` (UTF-8) unless it already holds exactly that; True when written.
    For small shared files (a school type's peer bands, the page script) that most runs leave as they are."""
    data = text.encode("utf-8")
    try:
        if Path(target).read_bytes() == data:
            return False
    except OSError:
        pass
    atomic_write_bytes(target, data, durable=durable)
    return True


def changed_within_tick(mtime_ns: int, ctime_ns: int, listed_at: int) -> bool:
    """Whether a file listed at `listed_at` (ns) is "racily clean" (git's term): it changed within a
    clock tick of the listing, so a write in that same tick would leave the listing as it is. Such a
    listing proves nothing about the bytes (the ingest hashes the file again, a run is not skipped)."""
    return mtime_ns >= listed_at - MTIME_TICK_NS or ctime_ns >= listed_at - CTIME_TICK_NS
