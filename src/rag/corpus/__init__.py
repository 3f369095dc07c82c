"""Stage 1: read the documents (.txt, .md, .html, .pdf; loaders.py) and their metadata (sources.py),
and clean what the web extraction of the .txt files left.

Cleaning, in order: Unicode spaces to plain spaces, navigation debris removed, glued words split
(``étrangersetplus`` -> ``étrangers et plus``) where the corpus's own vocabulary makes the split
unambiguous, and lines that repeat an earlier document dropped, so a passage is indexed once.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import CorpusError

from .loaders import Section, read_sections, read_text, table_lines
from .sources import METADATA_FILE, Source, institutions_of, read_sources

__all__ = ["Document", "Section", "Source", "load_corpus", "load_documents", "corpus_fingerprint", "document_hashes", "read_sources",
           "institutions_of", "METADATA_FILE"]

# Lines (or line endings) that are web-page furniture, not content.
_DEBRIS_LINES = re.compile(
    r"^(content \| menu.*|you are here\s*:.*|top of the page|ne pas modifier cette zone\.?)$", re.IGNORECASE)
_DEBRIS_TAILS = re.compile(
    r"\s*(\.\.\.|…)?\s*(plus d'infos|en savoir plus(?: sur [^.]*)?|accéder au portail|consulter le catalogue de cours)\.?\s*$",
    re.IGNORECASE)
# A breadcrumb trail ("Accueil > International > Vie pratique"): three or more short steps joined by the same
# ">", "»" or "›", no figure, no quote.
_BREADCRUMB = re.compile("|".join(rf"^[^<>«»›\d\n]{{1,40}}(?:\s{sep}\s[^<>«»›\d\n]{{1,40}}){{2,}}$" for sep in (">", "»", "›")))
# A short line printed on every page of a document ("Haut de page", "Retour", "Partager") is the page's frame:
# from this many times in one document, in at most MAX_FRAME_WORDS words and nothing else (no figure, address or
# label: "Contact : welcome@…" on every page is content).
FRAME_REPEATS = 3
MAX_FRAME_WORDS = 4
_WORDS_ONLY = re.compile(r"[^\W\d_]+(?:[ '’-][^\W\d_]+)*")
_CELLS = re.compile(r"\s\|\s")
_SPACES = re.compile(r"[\u00a0\u2007\u202f\u2009\t]+")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    institution: str
    language: str
    url: str
    text: str
    multi_page: bool = False
    # .md, .html and .pdf files arrive in sections (headings, pages); a .txt file has none and is cut by
    # chunking's blank-line rules, as it always was.
    sections: tuple[Section, ...] = ()


def corpus_fingerprint(corpus_dir: Path) -> str:
    """SHA-256 over the metadata and every listed file: any edit makes the index stale."""
    sources = read_sources(corpus_dir)
    digest = hashlib.sha256((Path(corpus_dir) / METADATA_FILE).read_bytes())
    for source in sources:
        try:
            digest.update((Path(corpus_dir) / source.file).read_bytes())
        except OSError as exc:
            raise CorpusError(f"cannot read corpus file {Path(corpus_dir) / source.file}: {exc.strerror}") from None
    return digest.hexdigest()


def document_hashes(corpus_dir: Path, sources: list[Source] | None = None) -> dict[str, str]:
    """{id: SHA-256 of the file and its metadata entry}: what `rag index` compares with the last build to say
    which documents changed."""
    hashes = {}
    for source in sources or read_sources(corpus_dir):
        digest = hashlib.sha256(source.model_dump_json().encode("utf-8"))
        try:
            digest.update((Path(corpus_dir) / source.file).read_bytes())
        except OSError as exc:
            raise CorpusError(f"cannot read corpus file {Path(corpus_dir) / source.file}: {exc.strerror}") from None
        hashes[source.id] = digest.hexdigest()
    return hashes


def load_corpus(corpus_dir: Path, deduplicate: bool = True) -> list[Document]:
    """The cleaned documents, in the metadata's order of precedence. `deduplicate=False` keeps lines that
    an earlier document already holds (`rag corpus check` looks for them)."""
    return load_documents(corpus_dir, read_sources(corpus_dir), deduplicate)


def load_documents(corpus_dir: Path, sources: list[Source], deduplicate: bool = True) -> list[Document]:
    raw = {s.id: read_text(Path(corpus_dir) / s.file) for s in sources if s.format == ".txt"}
    sections = {s.id: read_sections(Path(corpus_dir) / s.file, s.title) for s in sources if s.format != ".txt"}
    # Web-extraction repairs apply to the .txt files only, with the vocabulary of the .txt files only: the
    # parsed formats have no glued words, and adding one must not change how the texts are read.
    texts = {doc_id: pipe_tables(strip_debris(normalise_spaces(text))) for doc_id, text in raw.items()}
    vocabulary = Counter(w.lower() for text in texts.values() for w in _WORD.findall(text))
    evidence = re.sub(r"\s+", " ", " ".join(texts.values()).lower())
    texts = {doc_id: unglue_words(text, vocabulary, evidence) for doc_id, text in texts.items()}
    sections = {doc_id: [replace(s, text=normalise_spaces(s.text).strip()) for s in parts]
                for doc_id, parts in sections.items()}
    if deduplicate:
        texts, sections = drop_repeated(sources, texts, sections)
    documents = []
    for s in sources:
        parts = tuple(p for p in sections.get(s.id, ()) if p.text)
        text = texts[s.id] if s.id in texts else "\n\n".join(p.text for p in parts) + "\n"
        documents.append(Document(id=s.id, title=s.title, institution=s.institution, language=s.language,
                                  url=s.url, text=text, multi_page=s.multi_page, sections=parts))
    return documents


def normalise_spaces(text: str) -> str:
    """No-break and thin spaces, tabs and CRLF to plain forms; trailing spaces trimmed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _SPACES.sub(" ", text)
    return "\n".join(line.rstrip() for line in text.split("\n"))


def strip_debris(text: str) -> str:
    """'Top of the page' lines, breadcrumb trails and short lines repeated on every page go; 'Plus d'infos.'
    endings go; the rest stays as it was."""
    counts = Counter(line.strip() for line in text.split("\n"))
    frame = {line for line, n in counts.items() if n >= FRAME_REPEATS and len(line.split()) <= MAX_FRAME_WORDS
             and _WORDS_ONLY.fullmatch(line)}
    lines = []
    for line in text.split("\n"):
        bare = line.strip()
        if _DEBRIS_LINES.match(bare) or _BREADCRUMB.match(bare) or bare in frame:
            continue
        lines.append(_DEBRIS_TAILS.sub("", line) if line.strip() else line)
    return "\n".join(lines).strip() + "\n"


def pipe_tables(text: str) -> str:
    """A table pasted as text ("Type de logement | Loyer mensuel" over rows "Studio | 420 €"): each row names
    its cells by the header's columns, as the .html and .md readers do (loaders.table_lines), so a row quoted
    alone says which figure is the rent. A run of lines with the same number of " | " cells is a table; its
    first line is the header when it holds no figure; without one, the lines stay as they are."""
    lines = text.split("\n")
    cells = [[c.strip() for c in _CELLS.split(line.strip().strip("|").strip())] if _CELLS.search(line) else []
             for line in lines]
    out, i = [], 0
    while i < len(lines):
        j = i + 1
        while cells[i] and j < len(lines) and len(cells[j]) == len(cells[i]):
            j += 1
        if j - i >= 2 and not any(ch.isdigit() for ch in lines[i]):
            out.extend(table_lines(cells[i + 1:j], cells[i]))
        else:
            out.extend(lines[i:j])
        i = j
    return "\n".join(out)


def unglue_words(text: str, vocabulary: Counter, evidence: str) -> str:
    """Split tokens that the extraction glued together, where the corpus itself shows the split.

    ``unenseignement`` -> ``un enseignement``; ``de1`` -> ``de 1``; ``événements.Plus`` -> ``événements. Plus``.
    A token is split only if it occurs once in the corpus and its split form stands in `evidence`
    (the whole corpus, lower-cased) as a phrase: ``quarter`` would split into known words
    (``qu art er``) but that phrase stands nowhere, so it stays whole.
    """
    text = re.sub(r"(?<=[a-zà-ÿ]{2})([.)])(?=[A-ZÀ-Ý][a-zà-ÿ])", r"\1 ", text)
    text = re.sub(r"(?<=[a-zà-ÿ]{2}\))(?=[a-zà-ÿ])", " ", text)
    text = re.sub(r"\b(de|à|le|la|les|des)(\d)", r"\1 \2", text)

    def split(match: re.Match) -> str:
        word = match.group(0)
        before, after = text[max(0, match.start() - 1):match.start()], text[match.end():match.end() + 2]
        if len(word) < 6 or vocabulary[word.lower()] > 1 or before in ("@", ".") or re.match(r"[@.]\w", after):
            return word  # frequent words, e-mail addresses and domain names (MonMaster.gouv.fr) stay whole
        for parts in _word_splits(word, vocabulary):
            if " ".join(parts).lower() in evidence:
                return " ".join(parts)
        return word

    return _WORD.sub(split, text)


def _word_splits(word: str, vocabulary: Counter, max_parts: int = 4) -> list[list[str]]:
    """Every split of `word` into 2 to `max_parts` corpus words. ``unsolide`` -> [['un', 'solide']]."""
    results: list[list[str]] = []

    def extend(start: int, parts: list[str]) -> None:
        if start == len(word):
            if len(parts) >= 2:
                results.append(parts)
            return
        if len(parts) == max_parts:
            return
        for end in range(start + 1, len(word) + 1):
            piece = word[start:end]
            if vocabulary[piece.lower()] and (len(piece) > 1 or piece.lower() == "à"):
                extend(end, parts + [piece])

    extend(0, [])
    return results


def _line_key(line: str) -> str:
    """Letters and digits only, case-folded: glued and spaced versions of a line get one key."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", line).casefold() if ch.isalnum())


def drop_repeated_lines(documents: list[tuple[str, str]]) -> dict[str, str]:
    """Drop each line whose content already stands in an earlier document (kept: blank lines, structure)."""
    texts, _ = _drop_repeated([(doc_id, text, None) for doc_id, text in documents])
    return texts


def drop_repeated(sources: list[Source], texts: dict[str, str], sections: dict[str, list[Section]]):
    """drop_repeated_lines over every format, in the order of sources.json: the section texts of a parsed
    document lose their repeated lines as a .txt file's text does."""
    return _drop_repeated([(s.id, texts.get(s.id), sections.get(s.id)) for s in sources])


def _drop_repeated(documents):
    seen_text = ""
    texts, sections = {}, {}

    def kept(text: str) -> str:
        lines = [line for line in text.split("\n")
                 if not ((key := _line_key(line)) and len(key) >= 12 and key in seen_text)]
        return re.sub(r"\n{4,}", "\n\n\n", "\n".join(lines)).strip()

    for doc_id, text, parts in documents:
        if parts is None:
            texts[doc_id] = kept(text) + "\n"
            seen_text += "|" + _line_key(text)
        else:
            sections[doc_id] = [replace(part, text=kept(part.text)) for part in parts]
            seen_text += "|" + _line_key("\n".join(part.text for part in parts))
    return texts, sections
