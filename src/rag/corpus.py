"""Stage 1: read the source texts and their metadata, and clean what the web extraction left.

Cleaning, in order: Unicode spaces to plain spaces, navigation debris removed, glued words split
(``étrangersetplus`` -> ``étrangers et plus``) where the corpus's own vocabulary makes the split
unambiguous, and lines that repeat an earlier document dropped, so a passage is indexed once.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .errors import CorpusError

METADATA_FILE = "sources.json"
REQUIRED_FIELDS = ("id", "file", "title", "institution", "language", "url")

# Lines (or line endings) that are web-page furniture, not content.
_DEBRIS_LINES = re.compile(
    r"^(content \| menu.*|you are here\s*:.*|top of the page|ne pas modifier cette zone\.?)$", re.IGNORECASE)
_DEBRIS_TAILS = re.compile(
    r"\s*(\.\.\.|…)?\s*(plus d'infos|en savoir plus(?: sur [^.]*)?|accéder au portail|consulter le catalogue de cours)\.?\s*$",
    re.IGNORECASE)
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


def read_metadata(corpus_dir: Path) -> list[dict]:
    path = Path(corpus_dir) / METADATA_FILE
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorpusError(f"no {METADATA_FILE} in {corpus_dir}: is --corpus the project's corpus/ folder?") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorpusError(f"cannot read {path}: {exc}") from None
    if not isinstance(entries, list) or not entries:
        raise CorpusError(f"{path} must hold a non-empty JSON list of sources")
    for i, entry in enumerate(entries):
        missing = [f for f in REQUIRED_FIELDS if not isinstance(entry, dict) or f not in entry]
        if missing:
            raise CorpusError(f"{path}: source #{i + 1} lacks {', '.join(missing)}")
    return entries


def read_raw_texts(corpus_dir: Path, entries: list[dict]) -> dict[str, str]:
    texts = {}
    for entry in entries:
        path = Path(corpus_dir) / entry["file"]
        try:
            texts[entry["id"]] = path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            raise CorpusError(f"corpus file {path} is missing (listed in {METADATA_FILE})") from None
        except UnicodeDecodeError as exc:
            raise CorpusError(f"corpus file {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        except OSError as exc:
            raise CorpusError(f"cannot read corpus file {path}: {exc.strerror}") from None
    return texts


def corpus_fingerprint(corpus_dir: Path) -> str:
    """SHA-256 over the metadata and every listed file: any edit makes the index stale."""
    entries = read_metadata(corpus_dir)
    digest = hashlib.sha256((Path(corpus_dir) / METADATA_FILE).read_bytes())
    for entry in entries:
        try:
            digest.update((Path(corpus_dir) / entry["file"]).read_bytes())
        except OSError as exc:
            raise CorpusError(f"cannot read corpus file {Path(corpus_dir) / entry['file']}: {exc.strerror}") from None
    return digest.hexdigest()


def load_corpus(corpus_dir: Path) -> list[Document]:
    """The cleaned documents, in the metadata's order of precedence."""
    entries = read_metadata(corpus_dir)
    raw = read_raw_texts(corpus_dir, entries)
    texts = {doc_id: strip_debris(normalise_spaces(text)) for doc_id, text in raw.items()}
    vocabulary = Counter(w.lower() for text in texts.values() for w in _WORD.findall(text))
    evidence = re.sub(r"\s+", " ", " ".join(texts.values()).lower())
    texts = {doc_id: unglue_words(text, vocabulary, evidence) for doc_id, text in texts.items()}
    texts = drop_repeated_lines([(e["id"], texts[e["id"]]) for e in entries])
    return [Document(id=e["id"], title=e["title"], institution=e["institution"], language=e["language"],
                     url=e["url"], text=texts[e["id"]], multi_page=bool(e.get("multi_page")))
            for e in entries]


def normalise_spaces(text: str) -> str:
    """No-break and thin spaces, tabs and CRLF to plain forms; trailing spaces trimmed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _SPACES.sub(" ", text)
    return "\n".join(line.rstrip() for line in text.split("\n"))


def strip_debris(text: str) -> str:
    """'Top of the page' lines go; 'Plus d'infos.' endings go; the rest stays as it was."""
    lines = []
    for line in text.split("\n"):
        if _DEBRIS_LINES.match(line.strip()):
            continue
        lines.append(_DEBRIS_TAILS.sub("", line) if line.strip() else line)
    return "\n".join(lines).strip() + "\n"


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
    seen_text = ""
    result = {}
    for doc_id, text in documents:
        kept = []
        for line in text.split("\n"):
            key = _line_key(line)
            if key and len(key) >= 12 and key in seen_text:
                continue
            kept.append(line)
        result[doc_id] = re.sub(r"\n{4,}", "\n\n\n", "\n".join(kept)).strip() + "\n"
        seen_text += "|" + _line_key(text)
    return result
