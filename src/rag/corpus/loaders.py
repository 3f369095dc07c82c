"""Readers for each format of `corpus/`, all offline: a file to text (.txt) or to sections (.md, .html, .pdf).

- .txt: UTF-8 text as it is; corpus/__init__.py cleans what a web extraction left, as before.
- .md: markdown-it-py's tokens (already installed with Gradio; a CommonMark parser, so setext headings and
  code fences are handled): each heading opens a section.
- .html: BeautifulSoup with Python's own html.parser (no compiled parser, nothing to download): the
  <title> is the passage title, each h1–h6 opens a section; navigation, header, footer, aside, forms,
  scripts and styles are dropped before the text is read.
- .pdf: pypdf (pure Python, maintained): one section per page, its number kept for the citation's link.
LangChain's community loaders were not used: they wrap these same libraries (BSHTMLLoader, PyPDFLoader)
behind a package that pulls SQLAlchemy, aiohttp and requests, and they drop the headings this needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorpusError

# Page furniture: never content, whatever the page.
_HTML_DEBRIS = ("script", "style", "noscript", "template", "nav", "aside", "form", "svg", "iframe", "button",
                "select", "dialog")
# A page's header and footer are furniture; an article's or a section's own <header> holds its heading (HTML's
# rule: only a header outside article, aside, main, nav and section is the page's banner).
_HTML_PAGE_PARTS = ("header", "footer")
_HTML_SECTIONING = ("article", "aside", "main", "nav", "section")
_HTML_DEBRIS_ROLES = ("navigation", "banner", "contentinfo", "search", "menu", "menubar", "complementary")
_HTML_BLOCKS = ("p", "div", "li", "ul", "ol", "dl", "dt", "dd", "tr", "table", "section", "article", "main",
                "blockquote", "pre", "figure", "figcaption", "br", "hr", "address")
_HEADING_MARK = "\x00h"   # stands in the flattened text where a heading was


@dataclass(frozen=True)
class Section:
    """A piece of a structured document: what chunking treats as one section."""

    title: str                 # the page's title (HTML <title>, the Markdown's first heading, the PDF's title)
    heading: str               # the nearest heading above the text ("" if none)
    text: str
    page: int | None = None    # PDF page number, from 1


def read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise CorpusError(f"corpus file {path} is missing (listed in sources.json)") from None
    except UnicodeDecodeError as exc:
        raise CorpusError(f"corpus file {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise CorpusError(f"cannot read corpus file {path}: {exc.strerror}") from None


def read_sections(path: Path, title: str) -> list[Section]:
    """The sections of a .md, .html or .pdf file; `title` (sources.json) when the file gives none."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return read_pdf(path, title)
    text = read_text(path)
    sections = read_html(text, title) if suffix in (".html", ".htm") else read_markdown(text, title)
    if not sections:
        raise CorpusError(f"corpus file {path} holds no text")
    return sections


def _clean_line(line: str) -> str:
    return " ".join(line.split())


def table_lines(rows: list[list[str]], header: list[str] | None = None) -> list[str]:
    """A table as one line per row, each cell named by its column ("Type: Studio | Loyer mensuel: 420 € |
    Dépôt: 300 €"), so that a row quoted alone still says what its figures are; without a header row, the
    cells joined by " | ". Cells are never glued together ("Studio T1" then "420 €" is not "T1420 €")."""
    lines = []
    for row in rows:
        cells = [_clean_line(c) for c in row]
        if not any(cells):
            continue
        if header:
            names = [_clean_line(h) for h in header] + [""] * max(0, len(cells) - len(header))
            lines.append(" | ".join(f"{name}: {cell}" if name and name != cell else cell
                                    for name, cell in zip(names, cells) if cell))
        else:
            lines.append(" | ".join(c for c in cells if c))
    return lines


def _sections_from_lines(lines: list[tuple[str, str]], title: str) -> list[Section]:
    """('heading', text) / ('line', text) pairs -> sections; the first heading is the title if none was given."""
    sections: list[Section] = []
    heading, body = "", []

    def close():
        text = "\n".join(body).strip()
        if text:
            sections.append(Section(title=title, heading=heading if heading != title else "", text=text))

    for kind, text in lines:
        if kind == "heading":
            close()
            heading, body = text, []
        elif text or body:
            body.append(text)
    close()
    return sections


def read_html(html: str, fallback_title: str) -> list[Section]:
    from bs4 import BeautifulSoup, NavigableString

    soup = BeautifulSoup(html, "html.parser")
    title = _clean_line(soup.title.get_text()) if soup.title and soup.title.get_text(strip=True) else ""
    for tag in soup.find_all(_HTML_DEBRIS):
        if not tag.decomposed:
            tag.decompose()
    for tag in soup.find_all(_HTML_PAGE_PARTS):
        if not tag.decomposed and tag.find_parent(_HTML_SECTIONING) is None:
            tag.decompose()
    for tag in soup.find_all(attrs={"role": True}):
        if not tag.decomposed and tag.get("role") in _HTML_DEBRIS_ROLES:
            tag.decompose()
    for tag in soup.find_all(attrs={"hidden": True}):
        if not tag.decomposed:
            tag.decompose()
    root = soup.find("main") or soup.find(attrs={"role": "main"}) or soup.body or soup
    if not title:
        h1 = root.find("h1")
        title = _clean_line(h1.get_text(" ")) if h1 else fallback_title
    for text in root.find_all(string=True):   # HTML's own rule: a run of white space is one space
        if not text.find_parent("pre") and re.search(r"\s\s|[\n\t\r]", text):
            text.replace_with(NavigableString(re.sub(r"\s+", " ", text)))
    for tag in root.find_all(re.compile(r"^h[1-6]$")):
        tag.replace_with(NavigableString(f"\n{_HEADING_MARK}{_clean_line(tag.get_text(' '))}\n"))
    for table in reversed(root.find_all("table")):   # innermost first: a nested table is read as a cell's text
        rows = [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]
        cells = [[cell.get_text(" ") for cell in tr.find_all(("th", "td"), recursive=False)] for tr in rows]
        first_is_header = bool(rows) and all(cell.name == "th" for cell in rows[0].find_all(("th", "td"), recursive=False))
        header = cells[0] if first_is_header and len(cells) > 1 else None
        body = cells[1:] if header else cells
        table.replace_with(NavigableString("\n" + "\n".join(table_lines(body, header)) + "\n"))
    for tag in root.find_all(_HTML_BLOCKS):   # block boundaries are line boundaries
        tag.insert_before("\n")
        tag.insert_after("\n")
    lines = []
    for line in root.get_text().split("\n"):
        if line.startswith(_HEADING_MARK):
            lines.append(("heading", line[len(_HEADING_MARK):]))
        else:
            lines.append(("line", _clean_line(line)))
    return _sections_from_lines(_squeeze_blank(lines), title)


def _squeeze_blank(lines: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Blank lines only where they separate paragraphs: at most one in a row."""
    out: list[tuple[str, str]] = []
    for kind, text in lines:
        if kind == "line" and not text and (not out or not out[-1][1]):
            continue
        out.append((kind, text))
    return out


def read_markdown(text: str, fallback_title: str) -> list[Section]:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    lines: list[tuple[str, str]] = []
    title = ""
    in_heading = None
    table: list[list[str]] | None = None   # the rows of the table being read, its header row first
    header_rows = 0
    for token in tokens:
        if token.type == "table_open":
            table, header_rows = [], 0
        elif token.type == "tr_open" and table is not None:
            table.append([])
        elif token.type == "inline" and table is not None and table:
            table[-1].append(_inline_text(token))
            continue
        elif token.type == "thead_close" and table is not None:
            header_rows = len(table)
        elif token.type == "table_close" and table is not None:
            header = table[0] if header_rows == 1 and any(table[0]) else None
            lines.extend(("line", line) for line in table_lines(table[header_rows:] if header else table, header))
            table = None
        if token.type == "heading_open":
            in_heading = token.tag
        elif token.type == "inline":
            content = _inline_text(token)
            if in_heading:
                if in_heading == "h1" and not title:
                    title = content
                lines.append(("heading", content))
            else:
                lines.append(("line", content))
        elif token.type == "heading_close":
            in_heading = None
        elif token.type in ("fence", "code_block"):
            lines.extend(("line", line.rstrip()) for line in token.content.split("\n"))
        elif token.type in ("bullet_list_close", "ordered_list_close", "table_close") or \
                (token.type == "paragraph_close" and not token.hidden):   # items of a tight list stay together
            lines.append(("line", ""))
    return _sections_from_lines(_squeeze_blank(lines), title or fallback_title)


def _inline_text(token) -> str:
    """An inline token's text, links as 'text (https://…)' so the address can be quoted; markup dropped."""
    parts, href = [], None
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" " if child.type == "softbreak" else "\n")
        elif child.type == "link_open":
            href = child.attrs.get("href")
        elif child.type == "link_close" and href:
            if href.startswith(("http://", "https://", "mailto:")) and href.removeprefix("mailto:") not in "".join(parts):
                parts.append(f" ({href.removeprefix('mailto:')})")
            href = None
        elif child.type == "image":
            parts.append(child.content)
    return "\n".join(_clean_line(line) for line in "".join(parts).split("\n"))


def read_pdf(path: Path, title: str) -> list[Section]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise CorpusError(f"corpus file {path} is an encrypted PDF: save it without a password")
        info_title = (reader.metadata.title if reader.metadata else None) or ""
        pages = [page.extract_text() or "" for page in reader.pages]
    except FileNotFoundError:
        raise CorpusError(f"corpus file {path} is missing (listed in sources.json)") from None
    except CorpusError:
        raise
    except (PdfReadError, OSError, ValueError, KeyError, TypeError) as exc:
        raise CorpusError(f"corpus file {path} is not a readable PDF ({exc})") from None
    title = _clean_line(info_title) or title
    sections = []
    for number, text in enumerate((reflow(p) for p in pages), start=1):
        heading = _first_line_heading(text)
        # The heading line leaves the text, as an HTML heading does: it is the passage's section, and a
        # quoted answer should be a sentence, not a heading.
        text = text[len(heading):].strip() if heading else text
        if text:
            sections.append(Section(title=title, heading=heading, text=text, page=number))
    if not sections:
        raise CorpusError(f"corpus file {path} holds no extractable text (a scanned PDF needs OCR first)")
    return sections


def _first_line_heading(text: str) -> str:
    """A page's first line is its heading when it reads like one: short, no closing punctuation."""
    first, _, rest = text.partition("\n")
    return first if rest and len(first) <= 100 and not first.endswith((".", ";", ",", ":")) else ""


def reflow(page_text: str) -> str:
    """A PDF page's visual lines joined back into sentences: a line that does not end a sentence and is
    followed by one starting in lower case (or by a figure after a lower-case word: "from 9:00 to / 13:00")
    continues it (the answer quotes sentences, not visual lines)."""
    lines = [_clean_line(line) for line in page_text.replace("\r", "\n").split("\n")]
    out: list[str] = []
    for line in lines:
        previous = out[-1] if out else ""
        continues = line and (line[0].islower() or (line[0].isdigit() and previous[-1:].islower()))
        if previous and continues and not previous.endswith((".", "!", "?", ":", ";")):
            out[-1] = f"{out[-1][:-1]}{line}" if out[-1].endswith("-") and out[-1][-2:-1].isalpha() else f"{out[-1]} {line}"
        else:
            out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()
