"""The one walker of the data home's folders, and the inbox's listing taken once per `zhengai run`.

A run reads the inbox's listing three times: the run fingerprint (whether anything changed,
`pipelines.runinputs`), the sensor's inbox fingerprint (`pipelines.schedules`) and the ingest's
discovery (`pipelines.ingest.discover`). At national size (48,500 files) each walk cost about 0.5 s.
`zhengai run` now lists the inbox once (`list_inbox`) and hands that listing to the ingest, which runs
in the same process (`shared_listing`, `inbox_listing`): the fingerprints a successful run records
then describe exactly the files its ingest saw, and a file changed after the listing makes the next
run's fingerprint differ. A run started by the daemon (another process) lists the inbox itself.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

# (path, lstat) of an entry that is not a folder; (path, error) of a folder that could not be listed
Entry = tuple[str, "os.stat_result | OSError"]


def walk_entries(root: Path | str, follow_root: bool = False) -> Iterator[Entry]:
    """Every entry below `root` that is not a folder (`root` itself if it is none), with its lstat,
    in path order; nothing followed but, with `follow_root`, `root` itself (an inbox may be a link
    to a share). An entry that vanished meanwhile is left out; a folder that cannot be listed is
    yielded with its error, and the walk goes on."""
    try:
        info = os.stat(root) if follow_root else os.lstat(root)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):
        yield str(root), info
        return
    yield from _walk_folder(str(root))


def _walk_folder(folder: str) -> Iterator[Entry]:
    """The entries below a folder. Its listing says which entries are folders (no lstat of a
    folder) and joins their paths: at national size (48,500 files in 3,100 folders) a lstat and a
    join per entry in Python cost as much as the files' own lstat."""
    try:
        with os.scandir(folder) as listed:
            found = sorted(listed, key=attrgetter("name"))
    except (FileNotFoundError, NotADirectoryError):  # gone, or replaced by a file, since its parent was listed
        yield from walk_entries(folder)
        return
    except OSError as error:
        yield folder, error
        return
    for entry in found:
        if entry.is_dir(follow_symlinks=False):
            yield from _walk_folder(entry.path)
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except FileNotFoundError:  # vanished since the folder was listed
            continue
        if stat.S_ISDIR(info.st_mode):  # replaced by a folder since
            yield from _walk_folder(entry.path)
        else:
            yield entry.path, info


@dataclass(frozen=True)
class InboxListing:
    """The inbox's entries as one walk found them, and when (ns) that walk started."""

    root: str
    listed_at: int
    entries: tuple[Entry, ...]


def list_inbox(inbox: Path | str) -> InboxListing:
    """A new listing of `inbox` (nothing when it is not a folder: a run reads nothing from it)."""
    listed_at = time.time_ns()
    entries = tuple(walk_entries(inbox, follow_root=True)) if os.path.isdir(inbox) else ()
    return InboxListing(str(inbox), listed_at, entries)


_shared: list[InboxListing] = []  # the listing of the run this process is executing, if it took one


@contextmanager
def shared_listing(listing: InboxListing) -> Iterator[InboxListing]:
    """While a run executes in this process, its steps use `listing` instead of walking the inbox again."""
    _shared.append(listing)
    try:
        yield listing
    finally:
        _shared.remove(listing)


def inbox_listing(inbox: Path | str) -> InboxListing:
    """The listing the running `zhengai run` took of `inbox`, else a new one."""
    for listing in _shared:
        if listing.root == str(inbox):
            return listing
    return list_inbox(inbox)
