"""Every test gets its own data home: never the real warehouse, never the working directory.

`make test` runs the files on three processes (`--dist loadfile --no-loadscope-reorder`): every file is one unit
of work (its module fixtures built once, on one worker), files that share a session fixture are one unit
together (so it is built once too), and the slowest units are handed out first, so that the workers
finish together instead of one running a long file alone at the end."""

from __future__ import annotations

import pytest

# the ingest tests' `conn` fixture, the document tests' province and the small province run once with `zhengai run`,
# shared without importing them into each module
pytest_plugins = ["ingest_fixtures", "document_fixtures", "province_fixtures"]

# files that share a session-scoped fixture: one worker runs them all
SHARED_UNITS = {
    "tests/test_analysis_report.py": "documents",  # the province of document_fixtures.py
    "tests/test_dossier.py": "documents",
    "tests/test_publish.py": "small_province",  # the run of province_fixtures.py
    "tests/test_run_inputs.py": "small_province",
}
# Units by their wall time in a full `make test` (three workers, per-file CPU and wall measured on 2026-11-29,
# load 4-6), slowest first; units that mostly wait (on `dagster dev`, on Chromium) early, where their waiting
# overlaps the others' work instead of leaving a CPU idle at the end. A unit not listed follows them in
# collection order: the list only orders the work, a stale entry costs balance, never a test.
SLOWEST_UNITS = (
    "tests/test_incremental.py",
    "tests/test_cli_ui.py",
    "small_province",
    "documents",
    "tests/test_end_to_end.py",
    "tests/test_pages_layout.py",
    "tests/test_ingest_runs.py",
    "tests/test_quality.py",
    "tests/test_ingest.py",
    "tests/test_warnings.py",
    "tests/test_public_site.py",
    "tests/test_runlock.py",
    "tests/test_ingest_incremental.py",
    "tests/test_synth.py",
    "tests/test_site_incremental.py",
    "tests/test_header_mapping.py",
    "tests/test_ingest_guard.py",
    "tests/test_indicators.py",
    "tests/test_synth_layouts.py",
    "tests/test_quality_reports.py",
    "tests/test_online_layout.py",
    "tests/test_sampling_submissions.py",
    "tests/test_schedules.py",
    "tests/test_selfreport.py",
    "tests/test_quality_demo.py",
    "tests/test_quality_cache.py",
    "tests/test_site.py",
    "tests/test_sampling.py",
    "tests/test_serve_browser.py",
)


def unit_of(nodeid: str) -> str:
    """The unit of work of a test: its file, or the group of files it shares a session fixture with."""
    path = nodeid.split("::", 1)[0]
    return SHARED_UNITS.get(path, path)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {unit: position for position, unit in enumerate(SLOWEST_UNITS)}
    items.sort(key=lambda item: rank.get(unit_of(item.nodeid), len(rank)))  # stable: a file keeps its order


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile` with the shared units: xdist's loadfile scheduler splitting by `unit_of`."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class UnitScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    return UnitScheduling(config, log)


@pytest.fixture(autouse=True)
def zhengai_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("ZHENGAI_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    return home
