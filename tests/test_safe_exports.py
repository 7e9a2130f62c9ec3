"""Excel exports hold values, never formulas or links made from data (issue 12: CSV/formula injection).

A college is named `=HYPERLINK("http://x","y")`, and others start with `+`, `-` and `@`. The
workbooks are read at the level Excel reads them: the sheet XML inside the .xlsx. A formula cell
carries an `<f>` element and a link a `<hyperlink>`; the names must appear as plain text cells.
The same workbooks are also opened with openpyxl, as an analyst's script would: no cell is a formula.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import openpyxl

from pipelines.cli import main
from pipelines.settings import get_settings
from test_review import write_warehouse
from test_sampling import AS_OF, province

HOSTILE = ['=HYPERLINK("http://x","y")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,1)"]
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def cells(path: Path) -> list[dict]:
    """Every cell of every worksheet: reference, type attribute, formula (if any) and text."""
    found = []
    with zipfile.ZipFile(path) as book:
        names = book.namelist()
        shared = []
        if "xl/sharedStrings.xml" in names:
            root = ElementTree.fromstring(book.read("xl/sharedStrings.xml"))
            shared = ["".join(t.text or "" for t in item.iter(f"{MAIN}t")) for item in root.iter(f"{MAIN}si")]
        for name in names:
            if not re.fullmatch(r"xl/worksheets/sheet\d+\.xml", name):
                continue
            root = ElementTree.fromstring(book.read(name))
            assert not list(root.iter(f"{MAIN}hyperlink")), f"{name} holds a hyperlink"
            for cell in root.iter(f"{MAIN}c"):
                formula, value = cell.find(f"{MAIN}f"), cell.find(f"{MAIN}v")
                text = value.text if value is not None else None
                if cell.get("t") == "s" and text is not None:
                    text = shared[int(text)]
                found.append({"ref": cell.get("r"), "type": cell.get("t"), "formula": formula, "text": text})
    return found


def openpyxl_cells(path: Path) -> list:
    book = openpyxl.load_workbook(path)
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row if cell.value is not None]


def assert_names_are_text(path: Path, names) -> None:
    found = cells(path)
    assert [cell["ref"] for cell in found if cell["formula"] is not None] == []
    opened = openpyxl_cells(path)
    assert [cell.coordinate for cell in opened if cell.data_type == "f"] == []
    for name in names:
        assert any(cell.data_type == "s" and name in str(cell.value) for cell in opened), (
            f"{name} not text in {path.name}"
        )
    for name in names:
        holding = [cell for cell in found if cell["text"] and name in cell["text"]]
        assert holding, f"{name} missing from {path.name}"
        assert all(cell["type"] in ("s", "str", "inlineStr") for cell in holding)


def test_the_sampling_plan_writes_hostile_names_as_text(capsys):
    schools, risk, warnings = province(40)
    schools = [(code, HOSTILE[i % len(HOSTILE)], *rest) for i, (code, _, *rest) in enumerate(schools)]
    write_warehouse(schools, risk, warnings)
    assert main(["sample", "--cycle-start", "2025", "--year", "2025", "--seed", "3", "--as-of", AS_OF]) == 0
    folder = get_settings().exports / "sampling" / "2025"
    plan = json.loads((folder / "plan.json").read_text(encoding="utf-8"))["plan"]
    shown = {row["name_zh"] for row in plan["selected"] + plan["excluded"]}
    assert HOSTILE[0] in shown  # 13801 has the highest risk
    assert_names_are_text(folder / "plan.xlsx", shown)


def test_the_review_template_writes_hostile_registry_names_as_text(tmp_path, capsys):
    registry = get_settings().registry
    registry.parent.mkdir(parents=True)
    rows = [
        f'138{i:02d},"{name.replace(chr(34), chr(34) * 2)}",综合,公办,active,,2000,' for i, name in enumerate(HOSTILE)
    ]
    registry.write_text(
        "school_code,name_zh,school_type,ownership,status,succeeded,active_from,active_to\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "模板.xlsx"
    arguments = ["review", "template", "--out", str(out)]
    for i in range(len(HOSTILE)):
        arguments += ["--school", f"138{i:02d}"]
    assert main(arguments) == 0
    assert_names_are_text(out, HOSTILE)
