"""Stage 2: cut documents into passages that follow their structure, and passages into sentences.

A parsed document (.md, .html, .pdf) comes in sections already (headings, PDF pages). A multi-page text
file (the UPHF FAQ) is split into pages at two or more blank lines, the first line of
a page being its title; a page into sections at single blank lines; a section longer than
`chunk_size` by langchain's RecursiveCharacterTextSplitter, on line then sentence boundaries.
A chunk's id is derived from its source and text, so it survives rebuilds unless the text changes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass

from .corpus import Document

MIN_CHUNK_CHARS = 40  # a heading left alone by de-duplication ("Étudiants") is no passage
MAX_TITLE_CHARS = 90
HEADING_CHARS = 60    # a first line longer than this is a sentence of the passage, not a heading over it
_PAGE_BREAK = re.compile(r"\n[ \t]*\n[ \t]*\n\s*")
_SECTION_BREAK = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[«\"'A-ZÀ-Ý0-9])")


@dataclass(frozen=True)
class Chunk:
    id: str
    source: str
    title: str
    section: str
    text: str
    institution: str
    language: str
    url: str

    def embedding_text(self) -> str:
        """What the embedder sees: the page title and section heading give a short passage its topic."""
        head = " — ".join(part for part in (self.title, self.section) if part and not self.text.startswith(part))
        return f"{head}\n{self.text}" if head else self.text

    def in_context(self, sentence: str) -> str:
        """One of its sentences as the embedder reads it to tell which line answers: after the page title and
        section, so a bare list item ("Université de Karlstad, Suède") carries its topic (the alliance's members).
        A title that is the passage's own first sentence (an FAQ page's, cut to a title) is no heading: every
        line read after it would read as the answer it gives."""
        def heading(part: str) -> bool:
            own_line = self.text.startswith(part.rstrip("…"))
            return bool(part) and not sentence.startswith(part) and not (
                own_line and (part.endswith("…") or len(part) > HEADING_CHARS))

        head = " — ".join(part for part in (self.title, self.section) if heading(part))
        return f"{head}: {sentence}" if head else sentence

    def to_dict(self) -> dict:
        return asdict(self)


def chunk_documents(documents: list[Document], chunk_size: int = 700, chunk_overlap: int = 100) -> list[Chunk]:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size, chunk_overlap=chunk_overlap, separators=["\n", ". ", "; ", ", ", " ", ""],
        keep_separator="end", strip_whitespace=True)
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for doc in documents:
        for title, section, text, page in iter_sections(doc):
            # A PDF's passage links to its page: viewers open `file.pdf#page=3` there.
            url = f"{doc.url}#page={page}" if page is not None else doc.url
            pieces = [text] if len(text) <= chunk_size else splitter.split_text(text)
            for piece in pieces:
                piece = piece.strip()
                if len(piece) < MIN_CHUNK_CHARS:
                    continue
                chunk_id = hashlib.sha1(f"{doc.id}\n{piece}".encode("utf-8")).hexdigest()[:12]
                if chunk_id in seen:
                    continue
                seen.add(chunk_id)
                chunks.append(Chunk(id=chunk_id, source=doc.id, title=title, section=section, text=piece,
                                    institution=doc.institution, language=doc.language, url=url))
    return chunks


def iter_sections(doc: Document):
    """(page title, section heading, section text, PDF page or None) for each section of `doc`, in order.
    A parsed document (.md, .html, .pdf) brings its own sections; a .txt file is cut at blank lines."""
    for part in doc.sections:
        yield shorten(part.title) or doc.title, shorten(part.heading), part.text, part.page
    if doc.sections:
        return
    pages = _PAGE_BREAK.split(doc.text.strip()) if doc.multi_page else [doc.text.strip()]
    for page in pages:
        if not page.strip():
            continue
        title = shorten(page.strip().split("\n", 1)[0]) if doc.multi_page else doc.title
        for block in merge_headings(_SECTION_BREAK.split(page.strip())):
            lines = block.split("\n")
            heading = lines[0].strip() if len(lines) > 1 and is_heading(lines[0]) else ""
            yield title, heading if shorten(heading) != title else "", block.strip(), None


def merge_headings(blocks: list[str]) -> list[str]:
    """A block that is only a heading ("Centre FLE") joins the block it introduces."""
    merged: list[str] = []
    pending = ""
    for block in blocks:
        block = block.strip()
        if not block:
            continue
        if "\n" not in block and is_heading(block):
            pending = f"{pending}\n{block}" if pending else block
            continue
        merged.append(f"{pending}\n{block}" if pending else block)
        pending = ""
    if pending:
        merged.append(pending)
    return merged


def is_heading(line: str) -> bool:
    line = line.strip()
    return 0 < len(line) <= 100 and not line.endswith((".", ";", ","))


def shorten(line: str, limit: int = MAX_TITLE_CHARS) -> str:
    """A title of at most `limit` characters, cut at a word boundary. 'A long … title' style."""
    line = line.strip().rstrip(":").strip()
    if len(line) <= limit:
        return line
    cut = line[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage: its lines, and within a long line its sentences.

    "Montant : 210€ par mois.\\nPays du groupe 3 : …" -> ["Montant : 210€ par mois.", "Pays du groupe 3 : …"]
    """
    sentences = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        parts = _SENTENCE_END.split(line) if len(line) > 200 else [line]
        sentences.extend(p.strip() for p in parts if p.strip())
    return sentences
