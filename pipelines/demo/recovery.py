"""Do the warnings recover the truth? The demo generator records in its manifest the level it drew for
every college, year and indicator (`levels`, pipelines/demo/manifest.py); this module compares them with the
level the pipeline's thresholds give (`threshold_level` of mart.indicator_warnings: red beyond the
限制招生 value, yellow beyond the 合格 value, green otherwise, insufficient without a value).

The peer and trend yellows and the escalation are left out on purpose: the generator draws bands
against the thresholds, not positions among peers. A miss is *explained* when the manifest lists a
defect of that college and year in one of the indicator's source tables (or the college sent nothing
that year): the pipeline was right not to trust, or to trim, those figures.

`zhengai demo-check` prints the confusion matrix per level after `make demo`.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from dashboards.common import LEVEL_ZH

LEVELS = ("green", "yellow", "red", "insufficient")  # the verdicts a drawn level can be; names: dashboards.common
TARGET_MATCH_SHARE = 0.95


@dataclass(frozen=True)
class Outcome:
    school_code: str
    year: int
    indicator_code: str
    drawn: str
    recovered: str
    banded: bool  # the generator aimed this indicator at a band (it has thresholds)
    explained_by: tuple[str, ...]  # the defects of the college-year in the indicator's source tables

    @property
    def matched(self) -> bool:
        return self.drawn == self.recovered


def defects_by_college_year(manifest: dict) -> dict[tuple[str, int], list[dict]]:
    found: dict[tuple[str, int], list[dict]] = {}
    for defect in manifest["defects"]:
        found.setdefault((defect["school_code"], int(defect["year"])), []).append(defect)
    return found


def outcomes(conn, manifest: dict) -> list[Outcome]:
    """Every college-year-indicator the manifest drew a level for, with the level the pipeline recovered."""
    recovered = {
        (school, int(year), indicator): level
        for school, year, indicator, level in conn.execute(
            "select school_code, year, indicator_code, threshold_level from mart.indicator_warnings"
        ).fetchall()
    }
    sources = dict(conn.execute("select indicator_code, source_tables from ref.indicators").fetchall())
    banded = {code for (code,) in conn.execute("select distinct indicator_code from ref.thresholds").fetchall()}
    defects = defects_by_college_year(manifest)
    rows = []
    for school in manifest["schools_planned"]:
        code = school["school_code"]
        for year_text, levels in school["levels"].items():
            year = int(year_text)
            for indicator, drawn in levels.items():
                if drawn is None or indicator not in sources:
                    continue
                explained = tuple(
                    defect["kind"]
                    for defect in defects.get((code, year), [])
                    if defect["table_code"] in sources[indicator] or defect["kind"] == "not_submitted"
                )
                rows.append(
                    Outcome(
                        code,
                        year,
                        indicator,
                        drawn,
                        recovered.get((code, year, indicator), "insufficient"),
                        indicator in banded,
                        explained,
                    )
                )
    return rows


def reds_without_a_threshold_cause(conn) -> list[tuple]:
    """Red elements without a red indicator that is beyond its 限制招生 value, or beyond its 合格 value
    this year and the year before (read from the threshold flags, not from the verdict's own labels):
    a red that could only come from escalating a peer-relative or trend yellow. Must be none."""
    return conn.execute(
        "select e.school_code, e.year, e.element_code from mart.element_warnings e "
        "where e.level = 'red' and not exists ("
        "  select 1 from ref.indicator_elements l join mart.indicator_warnings i using (indicator_code) "
        "  left join mart.indicator_warnings p on p.school_code = i.school_code "
        "    and p.indicator_code = i.indicator_code and p.year = i.year - 1 "
        "  where l.element_code = e.element_code and i.school_code = e.school_code and i.year = e.year "
        "  and i.level = 'red' and (i.below_restricted or (i.below_qualified and coalesce(p.below_qualified, false)))"
        ") order by all"
    ).fetchall()


def confusion(rows: list[Outcome]) -> Counter:
    return Counter((row.drawn, row.recovered) for row in rows)


def match_share(rows: list[Outcome]) -> float:
    return sum(row.matched for row in rows) / len(rows) if rows else 0.0


def unexplained_misses(rows: list[Outcome]) -> list[Outcome]:
    return [row for row in rows if not row.matched and not row.explained_by]


def matrix_lines(rows: list[Outcome], title: str) -> list[str]:
    counts = confusion(rows)
    width = 8
    lines = [title, "drawn \\ recovered".ljust(18) + "".join(LEVEL_ZH[level].rjust(width) for level in LEVELS)]
    for drawn in LEVELS:
        if not any(counts[(drawn, level)] for level in LEVELS):
            continue
        lines.append(f"{LEVEL_ZH[drawn]:<16}" + "".join(str(counts[(drawn, level)]).rjust(width) for level in LEVELS))
    return lines


def report(rows: list[Outcome]) -> list[str]:
    """The closing lines of `make demo`: the matrices, the match shares against the target, the misses."""
    banded = [row for row in rows if row.banded]
    misses = [row for row in rows if not row.matched]
    unexplained = unexplained_misses(rows)
    lines = [
        *matrix_lines(banded, f"recovered levels, indicators with thresholds ({len(banded)} college-year-indicators):"),
        "",
        f"match: {match_share(banded):.1%} of indicators with thresholds, {match_share(rows):.1%} of all "
        f"{len(rows)} drawn college-year-indicators (target ≥ {TARGET_MATCH_SHARE:.0%})",
        f"misses: {len(misses)}, explained by an injected defect: {len(misses) - len(unexplained)}, "
        f"unexplained: {len(unexplained)}",
    ]
    by_kind = Counter(kind for row in misses for kind in set(row.explained_by))
    if by_kind:
        lines.append(
            "misses per defect kind: " + ", ".join(f"{kind} {count}" for kind, count in sorted(by_kind.items()))
        )
    lines += [
        f"  unexplained: {row.school_code} {row.year} {row.indicator_code}: drawn {row.drawn}, recovered {row.recovered}"
        for row in unexplained[:20]
    ]
    return lines


def cmd_demo_check(args: argparse.Namespace) -> int:
    import duckdb

    from pipelines.settings import get_settings

    settings = get_settings()
    manifest_path = Path(args.manifest) if args.manifest else settings.inbox / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"no generator manifest at {manifest_path}: run `zhengai synth` first")
    if not settings.warehouse.is_file():
        raise FileNotFoundError(f"no published warehouse at {settings.warehouse}: run `zhengai run` first")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    with duckdb.connect(str(settings.warehouse), read_only=True) as conn:
        rows = outcomes(conn, manifest)
        reds = reds_without_a_threshold_cause(conn)
    print("\n".join(report(rows)))
    print(f"red elements without a threshold cause (only an escalated peer or trend yellow): {len(reds)}")
    met = match_share(rows) >= TARGET_MATCH_SHARE and not unexplained_misses(rows) and not reds
    return 0 if met or not args.strict else 1


def register(subparsers) -> None:
    check = subparsers.add_parser(
        "demo-check",
        help="比较演示生成器设定的预警级别与流水线判出的级别 / compare the levels drawn with the levels recovered",
    )
    check.add_argument(
        "--manifest",
        help="生成器的 manifest.json（默认 $ZHENGAI_HOME/inbox/manifest.json）/ the generator's manifest.json",
    )
    check.add_argument("--strict", action="store_true", help="未达目标时退出码为 1 / exit 1 when the target is not met")
    check.set_defaults(func=cmd_demo_check)
