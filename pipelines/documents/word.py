"""A `Document` (pipelines/documents/blocks.py) as an editable Word file: A4 portrait, the title as
heading 0, block headings as Word headings (so the navigation pane lists them), tables in "Table Grid"
with a bold header row repeated on every page, level cells shaded with the site's level colours."""

from __future__ import annotations

from pathlib import Path

from dashboards.common import LEVEL_COLOURS
from pipelines.documents.blocks import Document
from pipelines.files import atomic_write
from pipelines.secretariat.selfreport_form import shade_cell

A4_MM = (210, 297)
MARGIN_MM = 20


def build_docx(document: Document):
    """The python-docx Document of `document`."""
    import docx
    from docx.shared import Mm

    word = docx.Document()
    word.core_properties.title = document.title
    section = word.sections[0]
    section.page_width, section.page_height = Mm(A4_MM[0]), Mm(A4_MM[1])
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(MARGIN_MM))
    word.add_heading(document.title, level=0)
    word.add_paragraph(document.subtitle)
    add_blocks(word, document.blocks, depth=0)
    return word


def add_blocks(word, blocks: list[dict], depth: int) -> None:
    for block in blocks:
        kind = block["kind"]
        if kind == "heading":
            word.add_heading(block["text"], level=min(block["level"] + depth, 9))
        elif kind == "paragraph":
            add_paragraph(word, block["text"], block["style"])
        elif kind == "bullets":
            for item in block["items"]:
                word.add_paragraph(item, style="List Bullet")
        elif kind == "table":
            add_table(word, block)
        elif kind == "element":
            word.add_heading(f"{block['title']}（{block['level_zh']}）", level=3)
            add_blocks(word, block["blocks"], depth=1)


def add_paragraph(word, text: str, style: str) -> None:
    from docx.shared import Pt, RGBColor

    paragraph = word.add_paragraph()
    run = paragraph.add_run(text)
    if style in ("muted", "note"):
        run.font.size = Pt(9)
        run.font.color.rgb = RGBColor(0x55, 0x55, 0x55)


def add_table(word, block: dict) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    if block["caption"]:
        add_paragraph(word, block["caption"], "muted")
    grid = word.add_table(rows=1, cols=len(block["headers"]), style="Table Grid")
    header = grid.rows[0]
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    header._tr.get_or_add_trPr().append(repeat)
    for target, text in zip(header.cells, block["headers"]):
        target.text = text
        for run in target.paragraphs[0].runs:
            run.font.bold = True
    for row in block["rows"]:
        cells = grid.add_row().cells
        for target, value in zip(cells, row):
            target.text = value["text"]
            if value["level"]:
                shade_cell(target, LEVEL_COLOURS[value["level"]].lstrip("#").upper())
    for row in grid.rows:
        for target in row.cells:
            for run in (run for paragraph in target.paragraphs for run in paragraph.runs):
                run.font.size = Pt(9)


def write_docx(document: Document, target: Path) -> Path:
    word = build_docx(document)
    atomic_write(target, lambda staging: word.save(str(staging)))
    return target
