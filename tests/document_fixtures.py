"""One demo province for the document tests (analysis report, pre-review dossier), built the way
production builds it: generate 6 colleges × 3 years (and the demo's predecessors of some), record the
active colleges' self-diagnosis reports (template filled as a college would, then `zhengai selfreport
import`) for all but one college and an earlier review for one, run the nightly job once, then
`zhengai sample` the review year. Session-scoped: both test modules read the same home (registered in
conftest.py's pytest_plugins).

`other_colleges_named` is the confidentiality scan both modules use: the names and codes of every
registry college outside the college's own lineage (itself and the colleges it succeeded)."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from pathlib import Path

import dagster as dg
import docx
import duckdb
import pytest

from pipelines.cli import main, run_config
from pipelines.definitions import defs
from pipelines.demo.province import generate_province
from pipelines.schedules import NIGHTLY_JOB
from pipelines.secretariat.inputs import element_codes
from pipelines.settings import get_settings
from test_selfreport import fill

AS_OF = "2024-12-01"
DATA_YEARS = [2022, 2023, 2024]
REVIEW_YEAR = 2026  # the cycle 2025-2027 gives six colleges its places in 2026 and 2027 (quotas 0|1|1)
PAST_REVIEW_YEAR = 2023


def run_nightly() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        result = (
            defs()
            .resolve_job_def(NIGHTLY_JOB)
            .execute_in_process(instance=instance, run_config=run_config(AS_OF, "WARNING"))
        )
    assert result.success


def record_selfreport(home: Path, code: str) -> None:
    form = home / f"form-{code}.docx"
    assert main(["selfreport", "template", "--school", code, "--year", "2024", "--out", str(form)]) == 0
    filled = fill(form, home / f"filled-{code}.docx")
    assert main(["selfreport", "import", str(filled), "--year", "2024", "--school", code]) == 0


def record_review(home: Path, code: str) -> None:
    results = home / "results.csv"
    with open(results, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["学校代码", "诊断要素代码", "诊断是否相符", "改进措施判断"])
        writer.writerows((code, e, "否" if e == "3.1" else "是", "强") for e in element_codes())
    date = f"{PAST_REVIEW_YEAR}-06-01"
    assert main(["review", "import", str(results), "--year", str(PAST_REVIEW_YEAR), "--date", date]) == 0


@pytest.fixture(scope="session")
def province(tmp_path_factory):
    home = tmp_path_factory.mktemp("documents")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZHENGAI_HOME", str(home))
        patch.setenv("DAGSTER_HOME", str(home / "dagster"))
        settings = get_settings()
        generate_province(settings.inbox, schools=6, years=DATA_YEARS, seed=31, defects=False)
        with open(settings.registry, encoding="utf-8") as handle:
            registry = list(csv.DictReader(handle))
        colleges = {row["school_code"]: row["name_zh"] for row in registry}
        # the demo registry also holds predecessors (renamed, merged) without data of their own
        codes = sorted(row["school_code"] for row in registry if row["status"] == "active")
        for code in codes[1:]:
            record_selfreport(home, code)
        record_review(home, codes[1])
        run_nightly()
        assert (
            main(
                ["sample", "--cycle-start", "2025", "--year", str(REVIEW_YEAR), "--seed", "3", "--as-of", "2024-12-15"]
            )
            == 0
        )
        plan = json.loads((settings.exports / "sampling" / str(REVIEW_YEAR) / "plan.json").read_text(encoding="utf-8"))
    return {
        "home": home,
        "colleges": colleges,
        "active": codes,
        "without_selfreport": codes[0],
        "reviewed": codes[1],
        "plan": plan["plan"],
        "sampled": [row["school_code"] for row in plan["plan"]["selected"]],
    }


@pytest.fixture
def province_home(zhengai_home, province, monkeypatch):
    """The province's home for a test (the conftest gives each test an empty one); modules opt in with
    `pytestmark = pytest.mark.usefixtures("province_home")`."""
    monkeypatch.setenv("ZHENGAI_HOME", str(province["home"]))


def warehouse() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(get_settings().warehouse), read_only=True)


def html_text(path: Path) -> str:
    return re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8"))


def docx_text(path: Path) -> str:
    """Every text of the Word file: its XML parts (body, tables, properties), markup removed."""
    with zipfile.ZipFile(path) as book:
        parts = [name for name in book.namelist() if name.endswith(".xml")]
        return re.sub(r"<[^>]+>", "", "".join(book.read(name).decode("utf-8") for name in parts))


def docx_headings(path: Path) -> list[str]:
    return [p.text for p in docx.Document(str(path)).paragraphs if p.style.name.startswith(("Heading", "Title"))]


def lineage_of(conn, code: str) -> set[str]:
    from pipelines.secretariat.inputs import registry_rows
    from pipelines.secretariat.sampling import colleges_from, lineage

    return set(lineage(code, colleges_from(registry_rows(conn))))


def other_colleges_named(text: str, code: str) -> set[str]:
    """The names and codes of other colleges found in `text` (a code only where no digit or point touches it)."""
    with warehouse() as conn:
        own = lineage_of(conn, code)
        others = [
            (c, n) for c, n in conn.execute("select school_code, name_zh from ref.schools").fetchall() if c not in own
        ]
    found = {name for _, name in others if name in text}
    found |= {c for c, _ in others if re.search(rf"(?<![\d.]){c}(?![\d.])", text)}
    return found
