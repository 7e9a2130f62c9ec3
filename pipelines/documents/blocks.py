"""The document model: a title, a subtitle and a list of blocks, written both as HTML and as Word.

A block is a small dict so that a Jinja2 template can walk it: `heading` (level, text), `paragraph`
(text, style: "" | "muted" | "note"), `bullets` (items), `table` (headers, rows of cells; a cell is text
or a `cell(text, level)` whose level colours it), `element` (a diagnostic element: title, level, level_zh,
and its own blocks). Every text is plain text: the HTML writer escapes it, the Word writer copies it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dashboards.common import LEVEL_ZH, page_html, templates


@dataclass
class Document:
    title: str
    subtitle: str
    blocks: list[dict] = field(default_factory=list)

    def heading(self, text: str, level: int = 1) -> None:
        self.blocks.append(heading(text, level))

    def paragraph(self, text: str, style: str = "") -> None:
        self.blocks.append(paragraph(text, style))

    def add(self, *blocks: dict) -> None:
        self.blocks.extend(block for block in blocks if block)


def heading(text: str, level: int = 2) -> dict:
    return {"kind": "heading", "level": level, "text": text}


def paragraph(text: str, style: str = "") -> dict:
    return {"kind": "paragraph", "text": text, "style": style}


def bullets(items: list[str]) -> dict:
    return {"kind": "bullets", "items": list(items)} if items else {}


def cell(text: object, level: str | None = None) -> dict:
    return {"text": "—" if text is None or text == "" else str(text), "level": level}


def table(headers: list[str], rows: list[list], caption: str = "") -> dict:
    """A table; each cell is text or `cell(text, level)`."""
    normalised = [[value if isinstance(value, dict) else cell(value) for value in row] for row in rows]
    return {"kind": "table", "caption": caption, "headers": list(headers), "rows": normalised}


def element(title: str, level: str, blocks: list[dict]) -> dict:
    level = level if level in LEVEL_ZH else "insufficient"
    return {
        "kind": "element",
        "title": title,
        "level": level,
        "level_zh": LEVEL_ZH[level],
        "blocks": [block for block in blocks if block],
    }


def render_html(document: Document) -> str:
    """The document as one self-contained page: the site's page shell and stylesheet (A4 when printed)."""
    body = templates().get_template("document.html").render(document=document)
    return page_html(document.title, body, body_class="report document")
