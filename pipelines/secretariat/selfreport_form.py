"""附件3, the self-diagnosis report form (《内部质量保证体系自我诊改报告》参考格式): written as a Word
document, and read back from a completed .docx or the same table as .xlsx.

The form follows the seed document's 附件3: 学校名称; 一、自我诊改工作概述（500 字以内）; 二、自我诊断
与改进报告表 (诊断项目 | 诊断要素 | 自我诊断意见 | 改进措施 | 改进成效, one row per element);
校长（签字） and the date; then the notes 注 1–5, quoted. Under each element row the template adds a
shaded row starting 「状态数据参考（不属于学校填写内容）」 with the element's warning level and reasons
from the published warehouse: an aid for the college, never its text, skipped on import.

Reading turns either file into rows of cell texts in document order (`Grid`), so one parser serves
both formats.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.secretariat.inputs import ReviewInputError, normalise_header, read_workbook_sheets

AID_PREFIX = "状态数据参考"
AID_LABEL = "状态数据参考（不属于学校填写内容，导入时忽略）"
TITLE = "内部质量保证体系自我诊改报告"
OVERVIEW_LABEL = "一、自我诊改工作概述（500 字以内）"
TABLE_LABEL = "二、自我诊断与改进报告表"
COLUMNS = ("诊断项目", "诊断要素", "自我诊断意见", "改进措施", "改进成效")
SIGNATURE_LABEL = "校长（签字）"
DATE_LABEL = "日期"
DATE_PLACEHOLDER = "    年  月  日"
SIGNATURE_IMAGE = "[签名图片]"
IDENTIFIER_PREFIX = "zhengai-selfreport"
# 附件3's notes, as the seed document states them (000_83acb5340c245763.txt, 附件3 注)
NOTES = (
    "注：1. 报告内容必须真实、准确。",
    "2. 每一诊断要素的“自我诊断意见”需阐明目标达成程度，主要成绩，存在问题，原因分析。总体不超过 500 字。"
    "存在问题与原因分析应占一半左右篇幅。",
    "3. 每一诊断要素的“改进措施”需突出针对性、注重可行性。总体不超过 200 字。",
    "4. 每一诊断要素的“改进效果”指实施改进措施之后已经显现的实际效果，不是预测或估计成效。"
    "如果措施尚未实施，请加说明。总体不超过 200 字。",
    "5. 自我诊改务必写实，无需等级性结论。",
)
AID_SHADE = "E7E6E6"

Grid = list[list[str]]
_ELEMENT_CODE = re.compile(r"^\s*(\d+(?:\s*\.\s*\d+)+)")
_DATE = re.compile(r"(\d{4})\s*[年./-]\s*(\d{1,2})\s*[月./-]\s*(\d{1,2})")


@dataclass
class ElementText:
    element_code: str
    element_label: str
    opinion: str = ""
    measures: str = ""
    effects: str = ""


@dataclass
class FormContent:
    """What the college wrote, read from the form; the status-data aid rows are not part of it."""

    school_name: str = ""
    identifier: str = ""
    overview: str = ""
    elements: dict[str, ElementText] = field(default_factory=dict)
    signature: str = ""
    date_text: str = ""
    aid_rows_skipped: int = 0

    def signed_date(self) -> dt.date | None:
        match = _DATE.search(self.date_text)
        if not match:
            return None
        try:
            return dt.date(*(int(part) for part in match.groups()))
        except ValueError:
            return None


# --- writing ---------------------------------------------------------------------------------------


def shade_cell(cell, colour: str = AID_SHADE) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), colour)
    cell._tc.get_or_add_tcPr().append(shading)


def build_form(
    school_code: str,
    school_name: str,
    year: int,
    elements: list[tuple[str, str, str]],
    evidence: dict[str, str],
    content: FormContent | None = None,
):
    """The 附件3 form as a python-docx Document: `elements` are (item label, element code, element name);
    `evidence` the aid text per element code; `content` fills the college's fields (a stored copy of an
    .xlsx report), else they are left empty for the college."""
    import docx
    from docx.shared import Pt

    document = docx.Document()
    document.core_properties.title = f"{school_name} {year} 年{TITLE}"
    document.core_properties.identifier = f"{IDENTIFIER_PREFIX}:{school_code}:{year}"
    document.add_heading(TITLE, level=1)
    document.add_paragraph("（参考格式）")
    document.add_paragraph(f"学校名称：{school_name}")
    document.add_heading(OVERVIEW_LABEL, level=2)
    document.add_table(rows=1, cols=1, style="Table Grid").cell(0, 0).text = content.overview if content else ""
    document.add_heading(TABLE_LABEL, level=2)
    table = document.add_table(rows=1, cols=len(COLUMNS), style="Table Grid")
    for cell, label in zip(table.rows[0].cells, COLUMNS):
        cell.text = label
    for item_label, code, name in elements:
        written = content.elements.get(code) if content else None
        cells = table.add_row().cells
        values = (item_label, f"{code} {name}", *(written_fields(written)))
        for cell, value in zip(cells, values):
            cell.text = value
        aid = table.add_row().cells
        merged = aid[0].merge(aid[-1])
        merged.text = f"{AID_LABEL}：{evidence.get(code, '无数据')}"
        for run in merged.paragraphs[0].runs:
            run.font.size = Pt(9)
        shade_cell(merged)
    signature = document.add_table(rows=2, cols=2, style="Table Grid")
    signature.cell(0, 0).text = SIGNATURE_LABEL
    signature.cell(0, 1).text = content.signature if content else ""
    signature.cell(1, 0).text = DATE_LABEL
    signature.cell(1, 1).text = content.date_text if content else DATE_PLACEHOLDER
    for note in NOTES:
        document.add_paragraph(note)
    return document


def written_fields(written: ElementText | None) -> tuple[str, str, str]:
    return (written.opinion, written.measures, written.effects) if written else ("", "", "")


# --- reading ---------------------------------------------------------------------------------------


def cell_text(cell) -> str:
    """The cell's text; a signature pasted as a picture counts as written."""
    text = cell.text.strip()
    if not text and cell._tc.xpath(".//w:drawing | .//w:pict"):
        return SIGNATURE_IMAGE
    return text


def docx_grid(path: Path) -> tuple[Grid, str]:
    """Paragraphs and table rows in document order (a merged cell once), and the document's identifier."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(str(path))
    except Exception:  # python-docx raises several types for a file that is not a Word document
        raise ReviewInputError(
            f"{path.name}: 无法作为 Word 文档打开（请用 Word 另存为 .docx 后重试）/ not a readable .docx"
        ) from None
    grid: Grid = []
    for child in document.element.body.iterchildren():
        if child.tag.endswith("}p"):
            grid.append([Paragraph(child, document).text.strip()])
        elif child.tag.endswith("}tbl"):
            for row in Table(child, document).rows:
                seen, cells = set(), []
                for cell in row.cells:
                    if id(cell._tc) not in seen:
                        seen.add(id(cell._tc))
                        cells.append(cell_text(cell))
                grid.append(cells)
    return grid, document.core_properties.identifier or ""


def xlsx_grid(path: Path) -> Grid:
    return [[cell.strip() for cell in row] for _, row in read_workbook_sheets(path, ())[None]]


def read_form(path: Path) -> FormContent:
    """A completed form (.docx or .xlsx) as the college's content; a file of another kind is refused."""
    if not path.is_file():
        raise FileNotFoundError(f"找不到文件 / file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".docx":
        grid, identifier = docx_grid(path)
    elif suffix in {".xlsx", ".xlsm"}:
        grid, identifier = xlsx_grid(path), ""
    else:
        raise ReviewInputError(f"{path.name}: 请提交 .docx（Word）或 .xlsx（Excel）格式的附件3 / unsupported file type")
    content = parse_grid(grid)
    content.identifier = identifier
    return content


def after_label(cells: list[str], index: int, label: str) -> str:
    """The value written beside a label: after its colon in the same cell, else the next non-empty cell."""
    own = cells[index].split(label, 1)[1].lstrip("：: \t")
    if own.strip("_ \u3000"):
        return own.strip()
    return next((cell for cell in cells[index + 1 :] if cell.strip("_ \u3000")), "")


def parse_grid(grid: Grid) -> FormContent:
    content = FormContent()
    positions: dict[str, int] | None = None
    overview: list[str] | None = None
    for cells in grid:
        filled = [cell for cell in cells if cell]
        if not filled:
            continue
        if filled[0].startswith(AID_PREFIX):
            content.aid_rows_skipped += 1
            continue
        header = {normalise_header(cell): index for index, cell in enumerate(cells)}
        if "诊断要素" in header and "自我诊断意见" in header:
            positions, overview = header, None
            continue
        labelled = label_row(cells, content)
        if labelled == "overview":
            overview = [cell for cell in cells if cell and "自我诊改工作概述" not in cell]
            content.overview = "\n".join(overview)
            continue
        if labelled == "signature":
            positions = overview = None
        if labelled:
            continue
        if TABLE_LABEL[2:] in filled[0]:
            overview = None
            continue
        if overview is not None:
            overview.extend(filled)
            content.overview = "\n".join(overview)
        elif positions is not None:
            read_element_row(cells, positions, content)
    return content


def label_row(cells: list[str], content: FormContent) -> str:
    """Reads 学校名称, 校长（签字） and 日期 where a row carries them; says which label the row held."""
    found = ""
    for index, cell in enumerate(cells):
        if cell.startswith("学校名称"):
            content.school_name = after_label(cells, index, "学校名称")
            found = found or "name"
        elif "自我诊改工作概述" in cell:
            found = "overview"
        elif cell.startswith("校长"):
            label = SIGNATURE_LABEL if SIGNATURE_LABEL in cell else "校长"
            value = after_label(cells, index, label)
            content.signature = "" if _DATE.search(value) or value.strip() == DATE_PLACEHOLDER.strip() else value
            found = "signature"
        elif cell.startswith(DATE_LABEL) or (_DATE.search(cell) and found == "signature"):
            content.date_text = after_label(cells, index, DATE_LABEL) if cell.startswith(DATE_LABEL) else cell
            found = "signature"
    return found


def read_element_row(cells: list[str], positions: dict[str, int], content: FormContent) -> None:
    def at(name: str) -> str:
        index = positions.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    label = at("诊断要素")
    match = _ELEMENT_CODE.match(label)
    if not match:
        return
    code = re.sub(r"\s+", "", match.group(1))
    effects = at("改进成效") or at("改进效果")
    content.elements[code] = ElementText(code, label, at("自我诊断意见"), at("改进措施"), effects)
