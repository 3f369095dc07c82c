"""`rag corpus check`: what is wrong with a corpus folder, one readable line per finding.

Errors (exit status 2; `rag index` would refuse or mis-cite): sources.json unreadable, an entry with a missing
or invalid field, a duplicate id, a listed file that is missing or unreadable, a file of a read format that
no entry lists. Warnings (exit 0): near-duplicate passages across documents, expired sources (valid_until
before today), files of a format the corpus does not read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorpusError
from .loaders import read_sections, read_text
from .sources import FORMATS, METADATA_FILE, Source, entry_label, entry_problems, read_raw_entries, today

# Cosine of TF-IDF vectors (scikit-learn; words and word pairs, fitted on the corpus's passages) from which
# two passages of different documents count as near-duplicates. Measured on the project's corpus: the passages
# of the Bienvenue en France and EUNICE pages that copy the FAQ score 0.61, 0.84, 0.89, 0.94 (a passage mixing
# copied and own lines scores lower); different pages of the FAQ on related topics at most 0.40; passages
# of different documents otherwise at most 0.20. 0.5 sits between.
NEAR_DUPLICATE_COSINE = 0.5
# Files in the corpus folder that are not documents.
NOT_DOCUMENTS = {METADATA_FILE.lower(), "readme.md", "readme.txt"}


@dataclass(frozen=True)
class Finding:
    level: str        # "error" or "warning"
    where: str        # a file, or a source's id
    message: str

    def line(self) -> str:
        return f"{self.level}: {self.where}: {self.message}"


def check_corpus(corpus_dir: Path, on: dt.date | None = None, chunk_size: int = 2000, chunk_overlap: int = 100,
                 threshold: float = NEAR_DUPLICATE_COSINE) -> list[Finding]:
    corpus_dir = Path(corpus_dir)
    on = on or today()
    findings: list[Finding] = []
    try:
        entries = read_raw_entries(corpus_dir)
    except CorpusError as exc:
        return [Finding("error", METADATA_FILE, str(exc))]
    valid: list[Source] = []
    ids: set[str] = set()
    for position, entry in enumerate(entries, start=1):
        problems = entry_problems(entry)
        label = entry_label(entry, position)
        if problems:
            findings += [Finding("error", f"{METADATA_FILE}, {label}", problem) for problem in problems]
            continue
        source = Source.model_validate(entry)
        if source.id in ids:
            findings.append(Finding("error", f"{METADATA_FILE}, {label}", f"the id {source.id!r} is used twice"))
            continue
        ids.add(source.id)
        valid.append(source)
    listed = {entry.get("file") for entry in entries if isinstance(entry, dict)}
    readable = []
    for source in valid:
        path = corpus_dir / source.file
        if not path.is_file():
            findings.append(Finding("error", source.file, f"listed in {METADATA_FILE} (id {source.id}) but there is no such file"))
            continue
        try:
            if source.format == ".txt":
                if not read_text(path).strip():
                    raise CorpusError(f"corpus file {path} is empty")
            else:
                read_sections(path, source.title)
        except CorpusError as exc:
            findings.append(Finding("error", source.file, f"unreadable: {exc}"))
            continue
        readable.append(source)
        if source.valid_until is not None and source.valid_until < on:
            findings.append(Finding("warning", source.id, f"expired: valid until {source.valid_until}, checked on "
                                                          f"{source.checked_on}; check the page again and update both dates"))
    for path in sorted(p for p in corpus_dir.iterdir() if p.is_file() and not p.name.startswith(".")):
        if path.name in listed or path.name.lower() in NOT_DOCUMENTS:
            continue
        if path.suffix.lower() in FORMATS:
            findings.append(Finding("error", path.name, f"no entry in {METADATA_FILE}: add one (id, file, title, "
                                                        f"institution, language, url, checked_on) or remove the file"))
        else:
            findings.append(Finding("warning", path.name, f"not a format the corpus reads ({', '.join(FORMATS)}): ignored"))
    if readable:
        findings += near_duplicates(corpus_dir, readable, chunk_size, chunk_overlap, threshold)
    return findings


def near_duplicates(corpus_dir: Path, sources: list[Source], chunk_size: int, chunk_overlap: int,
                    threshold: float = NEAR_DUPLICATE_COSINE) -> list[Finding]:
    """Passages of a document that repeat a passage of an earlier one (sources.json order). A warning, not an
    error: pages do repeat each other (the EUNICE page copies the FAQ's EUNICE section), and the index keeps
    a repeated line once, under the earlier document."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from ..chunking import chunk_documents
    from . import load_documents

    # Without de-duplication: that step would remove exactly the repeats this looks for.
    chunks = chunk_documents(load_documents(corpus_dir, sources, deduplicate=False), chunk_size, chunk_overlap)
    if len({c.source for c in chunks}) < 2:
        return []
    vectors = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform([c.text for c in chunks])
    similarity = (vectors @ vectors.T).toarray()
    order = {s.id: i for i, s in enumerate(sources)}
    findings = []
    for later, chunk in enumerate(chunks):
        candidates = [(similarity[later, earlier], earlier) for earlier, other in enumerate(chunks)
                      if order[other.source] < order[chunk.source]]
        if not candidates:
            continue
        cosine, earlier = max(candidates)
        if cosine >= threshold:
            other = chunks[earlier]
            findings.append(Finding("warning", chunk.source,
                                    f"passage {_excerpt(chunk.text)} nearly repeats {other.source}'s {_excerpt(other.text)} "
                                    f"(TF-IDF cosine {cosine:.2f}); its repeated lines are indexed once, under {other.source}"))
    return findings


def _excerpt(text: str, limit: int = 50) -> str:
    text = " ".join(text.split())
    return f"«{text if len(text) <= limit else text[:limit].rsplit(' ', 1)[0] + '…'}»"


def report(findings: list[Finding], documents: int) -> tuple[str, int]:
    """The lines to print and the exit status: 2 if any error, else 0."""
    errors = sum(f.level == "error" for f in findings)
    warnings = len(findings) - errors
    lines = [f.line() for f in sorted(findings, key=lambda f: f.level != "error")]
    lines.append(f"{documents} sources in {METADATA_FILE}: {errors} error{'s' * (errors != 1)}, "
                 f"{warnings} warning{'s' * (warnings != 1)}" + ("" if errors else " — the corpus can be indexed"))
    return "\n".join(lines), 2 if errors else 0
