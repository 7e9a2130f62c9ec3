"""Discovery: the inbox as a list of deliveries, one per file (zip members included), never
following a symlink nor opening a FIFO or device. Reading side: no warehouse here."""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pipelines.ingest.guard import (
    Problem,
    open_regular,
    read_regular,
    special_kind,
    special_problem,
    too_large,
    unexpected,
)
from pipelines.listing import Entry, InboxListing, inbox_listing
from pipelines.settings import IngestLimits

READABLE = {".xlsx", ".xls", ".csv"}  # .xls: BIFF (older exports, WPS), read by calamine like .xlsx
SPREADSHEET_LIKE = {".xlsx", ".csv", ".xls", ".xlsm", ".xlsb", ".ods", ".et", ".txt"}
WORKBOOK_SUFFIXES = SPREADSHEET_LIKE - {".csv", ".txt"}  # checked like zip deliveries before they are opened
IGNORED_NAMES = {"manifest.json", ".ds_store", "thumbs.db", "desktop.ini"}
SCHOOL_RE = re.compile(r"^\d{5}$")
ZIP_NAME_RE = re.compile(r"^(\d{5})[_\-](\d{4})$")


@dataclass
class Delivery:
    source_file: str  # path relative to the inbox (zip members: `<zip>/<member>`)
    school_code: str | None
    year: int | None
    folder: tuple[str, str]  # quarantine sub-folders (school, year) as found
    path: Path | str  # the file in the inbox (for a zip member: the zip); text from the listing (cheaper)
    modified: dt.datetime
    problem: Problem | None = None
    zip_parent: str | None = None
    member: str | None = None  # name inside the zip, as stored
    size: int = 0  # bytes to read (a zip member: uncompressed), to size the worker tasks
    readable: bool = True  # False: never opened nor copied (a symlink, FIFO, device, a file over the size limit)
    stamp: Stamp | None = None  # the inbox file's (size, mtime, ctime, inode) as listed; a zip member: the zip's
    known_sha: str | None = None  # sha256 recorded for this very stamp by a committed run: not read unless needed

    def read(self, limits: IngestLimits) -> bytes:
        return self.read_with_stat(limits)[0]

    def read_with_stat(self, limits: IngestLimits) -> tuple[bytes, os.stat_result | None]:
        """The bytes, and for a plain file the stat of what was read (to hard-link it safely).
        Only a regular file is opened, never through a symlink (see `guard.open_regular`)."""
        if self.member is None:
            return read_regular(self.path, self.name, limits)
        with open_regular(self.path, self.name) as stream, zipfile.ZipFile(stream) as archive:
            return archive.read(self.member), None

    # plain properties, not cached_property: its lock cost more than the string operations (48,500 files a night)
    @property
    def name(self) -> str:
        return self.source_file.rsplit("/", 1)[-1]

    @property
    def stem(self) -> str:
        suffix = self.suffix
        return self.name[: -len(suffix)] if suffix else self.name

    @property
    def suffix(self) -> str:
        return _suffix(self.name)


def _suffix(name: str) -> str:
    """As PurePosixPath's suffix (none for `.hidden` or `name.`), lower case; as text, which a run
    over thousands of files that reads none of them notices."""
    dot = name.rfind(".")
    return name[dot:].lower() if 0 < dot < len(name) - 1 else ""


Stamp = tuple[int, int, int, int]


def stamp_of(info: os.stat_result) -> Stamp:
    """What a file's listing says of its bytes without reading them: size, mtime and ctime (ns) and
    inode. The ctime is the kernel's own (no tool can set it): a rewrite that restores size and
    mtime (`cp -p`, `touch -r`, rsync -t, an unzip) still changes it, and so does a replacement by
    rename (also a new inode)."""
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


def _mtime(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(path.lstat().st_mtime)


def _relative(inbox: Path | str, path: Path | str) -> str:
    """The path as logged: relative to the inbox, bytes that are not UTF-8 shown as �. (Sliced as
    text: pathlib's relative_to cost a tenth of a run that reads nothing.)"""
    root, text = str(inbox) + os.sep, str(path)
    relative = text[len(root) :] if text.startswith(root) else Path(path).relative_to(inbox).as_posix()
    return relative.replace(os.sep, "/").encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _ignored(name: str) -> bool:
    return name.lower() in IGNORED_NAMES or name.startswith((".", "~$"))


def discover(inbox: Path, limits: IngestLimits, listing: InboxListing | None = None) -> list[Delivery]:
    """Every file in the inbox as a delivery; unparseable folders and unsafe zips carry a problem.

    `listing`: the inbox's listing this run took (`pipelines.listing`), else the one `zhengai run`
    took, else a new one. Entries are looked at with lstat and never followed: a symlink (to a file
    or a folder, a college folder included), a FIFO or a device is a delivery that is only
    described, never opened. An entry that fails to be listed is a delivery with that failure; the
    others go on.
    """
    listing = listing or inbox_listing(inbox)
    return [
        delivery for top, entries in _by_top_entry(listing) for delivery in _discover_top(inbox, top, entries, limits)
    ]


def discover_trusting(
    inbox: Path, limits: IngestLimits, listing: InboxListing, known: dict[str, tuple[Stamp, str]]
) -> list[list[Delivery] | TrustedFolder]:
    """The inbox as `discover` finds it, in the same order, but a college folder whose every file is
    a plain delivery listed as a committed run hashed it (`known`: source_file → (stamp, sha256)) is
    a `TrustedFolder`, its deliveries made only if the college must be read (`TrustedFolder.deliveries`):
    a nightly lists 48,500 files and reads a few."""
    found: list[list[Delivery] | TrustedFolder] = []
    suffixes: dict[str, str] = {}  # name → suffix: the colleges' files share a few dozen names
    for top, entries in _by_top_entry(listing):
        trusted = _trusted_folder(listing.root, top, entries, limits, known, suffixes) if known else None
        found.append(trusted or _discover_top(inbox, top, entries, limits))
    return found


@dataclass
class TrustedFolder:
    """A college folder whose files are all trusted from their listing: what deciding whether to
    read the college needs, without a `Delivery` per file (plain lists of text and numbers: no
    object per file for the garbage collector to walk)."""

    school: str
    top: str  # the folder's path
    entries: list[Entry]
    sources: list[str]  # source_file of each file, as its delivery would say
    shas: list[str]  # the sha256 a committed run recorded for its listing (its delivery's `known_sha`)
    archived: list[str]  # its archive copy's name: sha256 + suffix (`Delivery.suffix`)
    sizes: list[int]

    def deliveries(self, inbox: Path, limits: IngestLimits) -> list[Delivery]:
        """The folder's deliveries, exactly as `discover` makes them (`known_sha` not yet set)."""
        return _discover_top(inbox, self.top, self.entries, limits)


def _trusted_folder(
    root: str,
    top: str,
    entries: list[Entry],
    limits: IngestLimits,
    known: dict[str, tuple[Stamp, str]],
    suffixes: dict[str, str],
) -> TrustedFolder | None:
    """The college folder `top` as a `TrustedFolder`, or None when any entry is not a regular file in a
    year folder within the size limit and listed exactly as `known` holds it (that entry's delivery
    differs or must be read: the whole folder is then discovered as usual)."""
    school = top[len(root) + len(os.sep) :]
    if not SCHOOL_RE.match(school) or entries[0][0] == top:
        return None
    below, limit, years = len(root) + len(os.sep), limits.file_max_bytes, {}
    folder = TrustedFolder(school, top, entries, [], [], [], [])
    for path, info in entries:
        if isinstance(info, OSError) or not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        # as `_relative` writes it: a name with bytes that are not UTF-8 is never among the known ones
        source = path[below:].replace(os.sep, "/")
        parts = source.split("/", 2)
        if len(parts) < 3:
            return None
        place, name = parts[1], parts[2]
        year = years[place] if place in years else years.setdefault(place, _year(place))
        stamp, sha = known.get(source, (None, None))
        if year is None or stamp != (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino):  # stamp_of
            return None
        name = name.rpartition("/")[2]
        suffix = suffixes[name] if name in suffixes else suffixes.setdefault(name, _suffix(name))
        folder.sources.append(source)
        folder.shas.append(sha)
        folder.archived.append(sha + suffix)
        folder.sizes.append(info.st_size)
    return folder


def _discover_top(inbox: Path, top: str, entries: list[Entry], limits: IngestLimits) -> list[Delivery]:
    """The deliveries of one inbox entry (a college folder, a zip, a stray file)."""
    entry = Path(top)
    try:
        failed = next((info for _, info in entries if isinstance(info, OSError)), None)
        if failed is not None:
            raise failed
        if entries and entries[0][0] == top:  # not a folder: the entry itself
            info = entries[0][1]
            kind = special_kind(info.st_mode)
            if kind is not None:
                return [_special(inbox, entry, info, (entry.name, "unknown"), kind)]
            if entry.suffix.lower() == ".zip":
                return _discover_zip(inbox, entry, limits)
            if entry.suffix.lower() in SPREADSHEET_LIKE:
                return [_misplaced(inbox, entry, ("unsorted", "unknown"))]
            return []
        return _discover_school(inbox, entry, entries, limits)
    except Exception as error:  # one entry never stops the listing of the others
        return [_unlisted(inbox, entry, unexpected(_relative(inbox, entry), error))]


def _by_top_entry(listing: InboxListing) -> Iterator[tuple[str, list[Entry]]]:
    """The listing's entries grouped by the inbox entry they are in (in path order, so each group is
    one run of entries), the ignored names (`_ignored`) at any depth left out. An inbox that could
    not be listed at all fails the ingest, as before."""
    below = len(listing.root) + len(os.sep)
    hidden_folders: dict[str, bool] = {}  # per folder, not per entry: 48,500 entries share some 3,100 folders
    ignored_names: dict[str, bool] = {}  # and per name: the colleges' files share a few dozen names
    top, group = None, []
    for path, info in listing.entries:
        if path == listing.root and isinstance(info, OSError):
            raise info
        relative = path[below:]
        folder, _, name = relative.rpartition(os.sep)
        hidden = hidden_folders.get(folder)
        if hidden is None:
            hidden = hidden_folders[folder] = any(_ignored(part) for part in folder.split(os.sep) if part)
        ignored = ignored_names.get(name)
        if ignored is None:
            ignored = ignored_names[name] = _ignored(name)
        if hidden or ignored:
            continue
        head = relative.partition(os.sep)[0]
        if head != top:
            if group:
                yield os.path.join(listing.root, top), group
            top, group = head, []
        group.append((path, info))
    if group:
        yield os.path.join(listing.root, top), group


def _place(name: str) -> str:
    return name if SCHOOL_RE.match(name) else "unsorted"


def _special(inbox: Path, path: Path, info: os.stat_result, folder: tuple[str, str], kind: tuple[str, str]) -> Delivery:
    """A symlink, FIFO or device: quarantined as such (a reason file only)."""
    return Delivery(
        _relative(inbox, path),
        folder[0] if SCHOOL_RE.match(folder[0]) else None,
        _year(folder[1]),
        (_place(folder[0]), folder[1]),
        path,
        dt.datetime.fromtimestamp(info.st_mtime),
        problem=special_problem(_relative(inbox, path), kind),
        readable=False,
    )


def _unlisted(inbox: Path, path: Path, problem: Problem) -> Delivery:
    return Delivery(
        _relative(inbox, path),
        None,
        None,
        ("unsorted", "unknown"),
        path,
        dt.datetime.now(),
        problem=problem,
        readable=False,
    )


def _misplaced(inbox: Path, path: Path, folder: tuple[str, str]) -> Delivery:
    relative = _relative(inbox, path)
    return Delivery(
        source_file=relative,
        school_code=folder[0] if SCHOOL_RE.match(folder[0]) else None,
        year=None,
        folder=folder,
        path=path,
        modified=_mtime(path),
        problem=Problem(
            f"文件位置不符合约定：{relative}。应放在 inbox/<学校代码>/<采集年份>/ 下（如 inbox/13829/2024/），"
            "或打包为 inbox/<学校代码>_<采集年份>.zip",
            f"file is not where the inbox layout expects it: {relative}. Put it under "
            "inbox/<school_code>/<collection year>/ (e.g. inbox/13829/2024/) or deliver inbox/<school_code>_<year>.zip",
        ),
    )


def _year(text: str) -> int | None:
    return int(text) if re.fullmatch(r"(19|20)\d{2}", text) else None


def _discover_school(inbox: Path, folder: Path, entries: list[Entry], limits: IngestLimits) -> list[Delivery]:
    """The files below a college folder. Per entry only what differs from its neighbours is worked
    out (the year folder's checks once per folder, a regular file's kind in one test): a nightly
    lists 48,500 files and reads a few."""
    deliveries = []
    below = len(str(folder)) + len(os.sep)
    root = str(inbox)
    school = folder.name if SCHOOL_RE.match(folder.name) else None
    years: dict[str, int | None] = {}
    for path, info in entries:
        parts = path[below:].split(os.sep)
        place = parts[0] if len(parts) > 1 else "unknown"
        if place not in years:
            years[place] = _year(place) if len(parts) > 1 else None
        year = years[place]
        kind = None if stat.S_ISREG(info.st_mode) else special_kind(info.st_mode)
        if kind is not None:
            deliveries.append(_special(inbox, Path(path), info, (folder.name, place), kind))
            continue
        if school is None or year is None:
            deliveries.append(_misplaced(inbox, Path(path), (folder.name, place)))
            continue
        too_big = info.st_size > limits.file_max_bytes
        deliveries.append(
            Delivery(
                source_file=_relative(root, path),
                school_code=school,
                year=year,
                folder=(school, place),
                path=path,
                modified=dt.datetime.fromtimestamp(info.st_mtime),
                size=info.st_size,
                problem=too_large(parts[-1], info.st_size, limits) if too_big else None,
                readable=not too_big,
                stamp=stamp_of(info),
            )
        )
    return deliveries


def _zip_time(info: zipfile.ZipInfo, path: Path) -> dt.datetime:
    try:
        return dt.datetime(*info.date_time)
    except ValueError:  # a packer that wrote no valid date
        return _mtime(path)


def _member_name(info: zipfile.ZipInfo) -> str:
    """Member name, re-decoded as GBK when the zip (made on Chinese Windows) lacks the UTF-8 flag."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _unsafe(name: str) -> bool:
    posix = name.replace("\\", "/")
    return posix.startswith("/") or re.match(r"^[A-Za-z]:", posix) is not None or ".." in posix.split("/")


def _discover_zip(inbox: Path, path: Path, limits: IngestLimits) -> list[Delivery]:
    relative = _relative(inbox, path)
    match = ZIP_NAME_RE.match(path.stem)
    school, year = (match.group(1), _year(match.group(2))) if match else (None, None)
    folder = (school or "unsorted", str(year) if year else "unknown")

    def refused(zh: str, en: str) -> list[Delivery]:
        return [Delivery(relative, school, year, folder, path, _mtime(path), problem=Problem(zh, en))]

    if school is None or year is None:
        return refused(
            f"压缩包名称应为 <学校代码>_<采集年份>.zip（如 13829_2024.zip），实际为 {path.name}",
            f"a zip delivery must be named <school_code>_<year>.zip (e.g. 13829_2024.zip), got {path.name}",
        )
    stream = open_regular(path, path.name)
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        stream.close()
        return refused(
            f"压缩包 {path.name} 已损坏，无法打开：请重新打包后提交",
            f"zip {path.name} is corrupt and cannot be opened ({error}): pack it again and deliver",
        )
    with stream, archive:
        stamp = stamp_of(os.fstat(stream.fileno()))
        infos = [info for info in archive.infolist() if not info.is_dir()]
        names = {info.filename: _member_name(info) for info in infos}
        unsafe = [names[i.filename] for i in infos if _unsafe(names[i.filename])]
        if unsafe:
            return refused(
                f"压缩包 {path.name} 中的文件 {unsafe[0]} 会解压到文件夹之外（含“..”或绝对路径），已拒收：请只打包表格文件",
                f"zip {path.name} member {unsafe[0]} would land outside its folder ('..' or absolute path); "
                "refused: pack only the table files",
            )
        total = sum(info.file_size for info in infos)
        packed = sum(info.compress_size for info in infos) or 1
        worst = max((info.file_size / max(info.compress_size, 1) for info in infos), default=0)
        if (
            len(infos) > limits.zip_max_members
            or total > limits.zip_max_bytes
            or max(worst, total / packed) > limits.zip_max_ratio
        ):
            return refused(
                f"压缩包 {path.name} 解压后过大（{len(infos)} 个文件，共 {total} 字节，压缩比 {worst:.0f}），"
                f"超过上限（{limits.zip_max_members} 个文件、{limits.zip_max_bytes} 字节、压缩比 {limits.zip_max_ratio}），"
                "已拒收：请只打包本校本年度的表格文件",
                f"zip {path.name} expands too far ({len(infos)} members, {total} bytes, ratio {worst:.0f}; limits "
                f"{limits.zip_max_members} members, {limits.zip_max_bytes} bytes, ratio {limits.zip_max_ratio}); refused",
            )
        members = [(info, names[info.filename].replace("\\", "/")) for info in infos]
        members = [
            (info, name)
            for info, name in members
            if not _ignored(PurePosixPath(name).name) and not name.startswith("__MACOSX/")
        ]
        tops = {name.split("/", 1)[0] for _, name in members if "/" in name}
        strip = len(tops) == 1 and all("/" in name for _, name in members)
        deliveries = []
        for info, name in members:
            inner = name.split("/", 1)[1] if strip else name
            too_big = info.file_size > limits.file_max_bytes
            deliveries.append(
                Delivery(
                    source_file=f"{relative}/{inner}",
                    school_code=school,
                    year=year,
                    folder=folder,
                    path=path,
                    modified=_zip_time(info, path),
                    zip_parent=relative,
                    member=info.filename,
                    size=info.file_size,
                    problem=too_large(PurePosixPath(inner).name, info.file_size, limits) if too_big else None,
                    readable=not too_big,
                    stamp=stamp,
                )
            )
        return deliveries
