"""The site is published like the warehouse: built aside, switched in one rename.

Each run writes its pages into its own build folder, `$ZHENGAI_HOME/site-builds/<stamp>-<run_id>/`,
which starts as a copy of the published site made of hard links (cheap; pages are always replaced
by a rename, never rewritten in place, so the published files are never touched). `$ZHENGAI_HOME/site`
is a symbolic link to the published build; the run's last step points it at the new build by
renaming a new link over it, so a reader (or `zhengai serve`) sees the old site or the new one,
never a mix, and a run that fails or is killed half-way leaves the published site as it was.
The build published before stays (a request may still be reading it); every other build is removed.

The build is begun in a thread by the run's first site step (`start_site_build`, the plotly_js asset) while the run
ingests, and the page steps wait for it (`site_build`). Files no later step reads (the province workbooks, the
province page) are written in threads too (`in_background`); the publication waits for them before it replaces the
warehouse copies or the site, so a failure there publishes nothing.

Pages are rebuilt only where their content changed: each page writer fingerprints the input rows of
a page (or of one college's set of pages) with the code that renders it (`fingerprint`,
`fingerprints_by`, `code_version`) and compares that with the ledger kept in the site itself
(`site/.fingerprints/<kind>.json`, `PageLedger`); an unchanged page whose file is in the build is
left as the hard link it is. Pages are written without a flush each; `publish_site` flushes the ones
written (pipelines/files.py flush_written) before it points the site at the build.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, wait
from contextlib import contextmanager
from pathlib import Path

from pipelines.files import atomic_write_text_if_changed, flush_written, written_unflushed
from pipelines.settings import PROJECT_ROOT, get_settings


def builds_dir() -> Path:
    return get_settings().home / "site-builds"


def site_build_path(run_id: str) -> Path | None:
    """The build folder of run `run_id`, if the run has written pages (once its build, if begun, is made, and its
    pages in threads, `in_background`, are written)."""
    wait_for_build(run_id)
    finish_background_work(run_id)
    return find_build(run_id)


def find_build(run_id: str) -> Path | None:
    folder = builds_dir()
    return next(iter(sorted(folder.glob(f"*-{run_id}"))), None) if folder.is_dir() else None


def link_tree(source: Path, target: Path) -> None:
    """Hard-link every regular file under `source` into `target` (a copy where links are impossible);
    symbolic links are not carried over."""
    os.makedirs(target, exist_ok=True)
    # scandir's entry types come with the listing: no stat per file (a national site has 15,500 files)
    with os.scandir(source) as entries:
        for entry in entries:
            destination = os.path.join(target, entry.name)
            if entry.is_dir(follow_symlinks=False):
                link_tree(Path(entry.path), Path(destination))
            elif entry.is_file(follow_symlinks=False):
                try:
                    os.link(entry.path, destination)
                except OSError:
                    shutil.copy2(entry.path, destination)
                    written_unflushed(Path(destination))  # a copy's data is new: flushed before the build is published


# run id → (its build folder, the build being made in a thread): begun by `start_site_build`, awaited by `site_build`
BUILDING: dict[str, tuple[Path, Future]] = {}
BUILDING_LOCK = threading.Lock()
# run id → the removal of the builds older than the published one, begun with its build (`old_builds_removed`)
SWEEPING: dict[str, Future] = {}


def start_site_build(run_id: str) -> Path:
    """Begin making run `run_id`'s build in a thread: the published site hard-linked into it (about a second at
    national size, mostly waiting on the file system) while the run ingests and checks; returns the folder it will
    be. `site_build` and `site_build_path` wait for it; a failure is raised there."""
    with BUILDING_LOCK:
        if run_id in BUILDING:
            return BUILDING[run_id][0]
        existing = find_build(run_id)
        if existing is not None:
            return existing
        folder = builds_dir()
        stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
        target, staging = folder / f"{stamp}-{run_id}", folder / f".{stamp}-{run_id}.tmp"
        published = get_settings().site
        source = published.resolve() if published.is_dir() else None
        BUILDING[run_id] = (target, in_thread(f"site-build-{run_id}", make_build, source, staging, target))
        # the builds its publication would remove are removed meanwhile too (mostly waiting on the disk: seconds for a
        # national build on a busy machine), the published one, from which this one is linked, kept
        keep = {path.resolve() for path in (source, staging, target) if path is not None}
        SWEEPING[run_id] = in_thread(f"old-site-builds-{run_id}", remove_old_builds, keep, folder)
    return target


def make_build(source: Path | None, staging: Path, target: Path) -> Path:
    """The build at `target`: a copy of `source` (the published site) in hard links, made in `staging` and renamed,
    so a build folder is always complete."""
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    if source is not None:
        link_tree(source, staging)
    os.rename(staging, target)
    return target


def in_thread(name: str, work: Callable[..., object], *args: object) -> Future:
    """`work(*args)` in a daemon thread; the future holds its result or its failure."""
    done: Future = Future()
    done.set_running_or_notify_cancel()

    def run() -> None:
        try:
            done.set_result(work(*args))
        except BaseException as error:
            done.set_exception(error)

    threading.Thread(target=run, name=name, daemon=True).start()
    return done


def wait_for_build(run_id: str) -> None:
    """Wait until run `run_id`'s build, if begun, is made (raising its failure)."""
    with BUILDING_LOCK:
        begun = BUILDING.pop(run_id, None)
    if begun is not None:
        begun[1].result()


# run id → work on its build in threads (`in_background`), awaited before the build is published; and the work that
# waits for the publication to start (`start_background_work`)
BACKGROUND: dict[str, list[Future]] = {}
AT_PUBLICATION: dict[str, list[Callable[[], object]]] = {}
PUBLISHING: set[str] = set()  # runs whose publication has begun: their work `at_publication` starts at once


def in_background(run_id: str, work: Callable[[], object], at_publication: bool = False) -> None:
    """Do `work` on run `run_id`'s build in a thread while the run goes on: a file no later step reads. A province
    workbook starts at once (its compression releases the GIL); Python-heavy work (the province page) waits, with
    `at_publication`, for the publication to begin (`start_background_work`), which mostly waits on DuckDB and the
    disk (started earlier, it would only slow the page steps down: one GIL). The publication waits for all of it
    before it replaces anything (`finish_background_work`), so a build is never published without it, and nothing
    is when it failed."""
    with BUILDING_LOCK:
        if at_publication and run_id not in PUBLISHING:
            AT_PUBLICATION.setdefault(run_id, []).append(work)
        else:
            BACKGROUND.setdefault(run_id, []).append(in_thread(f"site-work-{run_id}", work))


def start_background_work(run_id: str) -> None:
    """Start run `run_id`'s work that waits for the publication (`in_background(..., at_publication=True)`), and
    from now on such work at once: its publication has begun (assets/publication.py stages the copies)."""
    with BUILDING_LOCK:
        PUBLISHING.add(run_id)
        waiting = AT_PUBLICATION.pop(run_id, [])
    for work in waiting:
        in_background(run_id, work)


def finish_background_work(run_id: str) -> None:
    """Wait for run `run_id`'s work in threads (`in_background`, started now if it was not); its first failure is
    raised."""
    start_background_work(run_id)
    with BUILDING_LOCK:
        pending = BACKGROUND.pop(run_id, [])
    wait(pending)
    for future in pending:
        future.result()


def site_build(run_id: str) -> Path:
    """The folder run `run_id` writes its pages into, created on first use from the published site."""
    start_site_build(run_id)
    wait_for_build(run_id)  # not for the pages in threads: the steps go on meanwhile
    build = find_build(run_id)
    if build is None:
        raise FileNotFoundError(f"站点构建目录不见了 / the site build of run {run_id} is gone")
    return build


def publish_site(run_id: str) -> Path | None:
    """Point `$ZHENGAI_HOME/site` at run `run_id`'s build in one rename; None when the run built no pages."""
    finish_background_work(run_id)
    sweeping = take_sweep(run_id)
    if sweeping is not None:
        wait([sweeping])  # before the switch: its idea of the published build would be stale after
    build = site_build_path(run_id)
    if build is None:
        return None
    link = get_settings().site
    previous = link.resolve() if link.is_symlink() else None
    if link.is_dir() and not link.is_symlink():
        # A site from before builds existed: kept as the previous build (the one moment that is not atomic).
        previous = builds_dir() / f"{dt.datetime.now():%Y%m%dT%H%M%S}-before-builds"
        os.rename(link, previous)
    # The pages this run wrote were written without a flush each (pipelines/files.py durable=False): they are flushed
    # now, before the switch, with their folders. That is all the build needs: its other files are hard links to files
    # flushed when an earlier build was published, and the links and folders the build was made of are file system
    # metadata, which a journaling file system (ext4, xfs) commits in order, at the latest with these flushes.
    flush_written(build)
    staging = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    staging.unlink(missing_ok=True)
    staging.symlink_to(os.path.relpath(build, link.parent), target_is_directory=True)
    os.replace(staging, link)
    remove_old_builds(keep={build.resolve(), *([previous.resolve()] if previous else [])})
    PUBLISHING.discard(run_id)
    return build


def take_sweep(run_id: str) -> Future | None:
    """The removal of old builds begun with run `run_id`'s build (`start_site_build`), for its one waiter."""
    with BUILDING_LOCK:
        return SWEEPING.pop(run_id, None)


@contextmanager
def old_builds_removed(run_id: str) -> Iterator[None]:
    """While the caller works, remove in a thread the builds that publishing run `run_id` would remove after it:
    every one but the published and this run's (unless its `start_site_build` began that already). Removing a
    national build (some 15,000 hard links) mostly waits on the disk, seconds on a busy machine."""
    wait_for_build(run_id)  # not for its pages in threads: they are written meanwhile, into the build kept
    sweeping, build = take_sweep(run_id), find_build(run_id)
    if sweeping is None and build is not None:
        site = get_settings().site
        keep = {path.resolve() for path in (site, build) if path.exists()}
        sweeping = in_thread("old-site-builds", remove_old_builds, keep)
    try:
        yield
    finally:
        if sweeping is not None:
            wait([sweeping])  # what it could not remove (ignored there) the next run removes


def remove_old_builds(keep: set[Path], builds: Path | None = None) -> list[Path]:
    """Remove every build (and abandoned staging folder) in `builds` (default `builds_dir()`) except those in
    `keep`."""
    removed = []
    builds = builds or builds_dir()
    if not builds.is_dir():
        return removed
    for folder in builds.iterdir():
        if folder.resolve() not in keep and folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


# --- pages rebuilt only where their content changed ---------------------------------------------------

FINGERPRINTS = ".fingerprints"  # site/.fingerprints/<kind>.json: what each page set was last built from


def fingerprint(*parts: object) -> str:
    """A content fingerprint of a page's inputs: frames by their schema and rows (in any order: a query
    without ORDER BY may return them shuffled), anything else by its repr."""
    import polars as pl

    digest = hashlib.sha256(pl.__version__.encode())  # row hashes are stable within one polars version
    for part in parts:
        if isinstance(part, pl.DataFrame):
            digest.update(repr(part.schema).encode("utf-8"))
            if part.width and part.height:
                digest.update(part.hash_rows(seed=19).sort().to_numpy().tobytes())
        else:
            digest.update(repr(sorted(part.items()) if isinstance(part, dict) else part).encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()


def fingerprints_by(frame, *keys: str) -> dict:
    """`fingerprint(part)` of every part of `frame` split by `keys` (a key value, or a tuple of them), in one
    pass over the whole frame: one college's slice of a national table costs no polars call of its own."""
    import numpy as np
    import polars as pl

    if frame.height == 0 or frame.width == 0:
        return {}
    schema = repr(frame.schema).encode("utf-8")
    hashed = frame.select(*keys).with_columns(frame.hash_rows(seed=19).alias("_row_hash"))
    grouped = hashed.group_by(*keys).agg(pl.col("_row_hash").sort())
    prints = {}
    for *key, hashes in grouped.iter_rows():
        digest = hashlib.sha256(pl.__version__.encode() + schema)
        digest.update(np.array(hashes, dtype=np.uint64).tobytes())
        prints[key[0] if len(keys) == 1 else tuple(key)] = digest.hexdigest()
    return prints


@functools.cache
def code_version(*sources: str) -> str:
    """A fingerprint of the code and templates that render pages (files or folders under the project root):
    a new release re-renders every page once."""
    digest = hashlib.sha256()
    for source in sources:
        path = PROJECT_ROOT / source
        for file in sorted(path.rglob("*") if path.is_dir() else [path]):
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(PROJECT_ROOT)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


class PageLedger:
    """Which fingerprint each unit of one kind of page (a college's dashboard, a college-year's report)
    was built from, kept in the site itself (`site/.fingerprints/<kind>.json`).

    The ledger travels with the site's files: a build starts as a copy of the published site, ledger
    included, and a run that fails leaves its build unpublished, so the ledger always describes the
    files beside it. A unit is rebuilt unless its fingerprint is the recorded one and every file it
    wrote is still there."""

    def __init__(self, site: Path, kind: str) -> None:
        self.path = site / FINGERPRINTS / f"{kind}.json"
        self.site = site
        try:
            self.before = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.before = {}
        self.after: dict[str, dict] = {}
        self.rendered = 0

    def unchanged(self, unit: str, print_: str) -> bool:
        """True (and the unit kept in the ledger) when `unit` was built from `print_` and its files exist."""
        entry = self.before.get(unit)
        if not isinstance(entry, dict) or entry.get("fingerprint") != print_:
            return False
        files = entry.get("files") or []
        if not all(os.path.isfile(os.path.join(self.site, name)) for name in files):
            return False
        self.after[unit] = entry
        return True

    def previous(self, unit: str) -> dict:
        """What the build this one starts from recorded for `unit` (fingerprint, files, any detail), or {}."""
        entry = self.before.get(unit)
        return entry if isinstance(entry, dict) else {}

    def record(self, unit: str, print_: str, files: list[Path], detail: dict | None = None) -> None:
        """`unit` built from `print_` into `files`; `detail` is what a later build may reuse of them."""
        self.rendered += 1
        self.after[unit] = {"fingerprint": print_, "files": sorted(str(f.relative_to(self.site)) for f in files)}
        if detail is not None:
            self.after[unit]["detail"] = detail

    def save(self) -> None:
        """Write the ledger of this build (units no longer built drop out); left alone when nothing changed."""
        # no indent: json's C encoder (an indented national ledger took a second and a half to write)
        ledger = json.dumps(self.after, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        atomic_write_text_if_changed(self.path, ledger, durable=False)
