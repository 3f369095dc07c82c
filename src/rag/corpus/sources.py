"""`sources.json`: one entry per document, validated with pydantic.

Required: id, file, title, institution, language, url, checked_on (the ISO date someone last checked the
text against the live page). Optional: valid_until (after it `rag corpus check` warns the source has
expired), multi_page (a .txt holding several pages separated by two blank lines), institution_aliases
(other names students use for the institution: "Amiens", "Jules Verne"), contact (the office an
abstention names, in French and English), about (a note for people).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import CorpusError

METADATA_FILE = "sources.json"
REQUIRED_FIELDS = ("id", "file", "title", "institution", "language", "url", "checked_on")
FORMATS = (".txt", ".md", ".html", ".htm", ".pdf")


class Source(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    id: str = Field(min_length=1, pattern=r"^\S+$")
    file: str = Field(min_length=1)
    title: str = Field(min_length=1)
    institution: str = Field(min_length=1)
    language: str = Field(pattern=r"^[a-z]{2,3}$")   # ISO 639-1/3, as the language detector names them
    # A plain string, not pydantic's URL type: that one adds a trailing slash, and the link is cited as written.
    url: str = Field(pattern=r"^https?://[^\s/$.?#][^\s]*$")
    checked_on: dt.date
    valid_until: dt.date | None = None
    multi_page: bool = False
    institution_aliases: list[str] = []
    # Whom an abstention sends the student to, {"fr": "au Pôle …", "en": "the … office"}; by default the
    # institution's link (see institutions_of).
    contact: dict[str, str] | None = None
    about: str | None = None

    @field_validator("file")
    @classmethod
    def _inside_corpus(cls, value: str) -> str:
        path = PurePosixPath(value)
        if path.is_absolute() or ".." in path.parts:
            raise ValueError("must be a file name inside the corpus folder")
        if path.suffix.lower() not in FORMATS:
            raise ValueError(f"must end with one of {', '.join(FORMATS)}")
        return value

    @property
    def format(self) -> str:
        return PurePosixPath(self.file).suffix.lower()


def read_raw_entries(corpus_dir: Path) -> list:
    """The JSON list as written, before validation (the check reports each entry's problems)."""
    path = Path(corpus_dir) / METADATA_FILE
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorpusError(f"no {METADATA_FILE} in {corpus_dir}: is --corpus the project's corpus/ folder?") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorpusError(f"cannot read {path}: {exc}") from None
    if not isinstance(entries, list) or not entries:
        raise CorpusError(f"{path} must hold a non-empty JSON list of sources")
    return entries


def entry_problems(entry) -> list[str]:
    """Readable problems of one entry: 'lacks checked_on', 'language: String should match pattern …'."""
    if not isinstance(entry, dict):
        return ["is not a JSON object"]
    missing = [f for f in REQUIRED_FIELDS if f not in entry]
    problems = [f"lacks {', '.join(missing)}"] if missing else []
    try:
        Source.model_validate(entry)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            if error["type"] != "missing":
                problems.append(f"{where}: {error['msg']} (got {error.get('input')!r})")
    return problems


def entry_label(entry, position: int) -> str:
    name = entry.get("id") if isinstance(entry, dict) else None
    return f"source #{position} ({name})" if isinstance(name, str) and name else f"source #{position}"


def read_sources(corpus_dir: Path) -> list[Source]:
    """Every entry validated, in the file's order (the order of precedence when passages repeat)."""
    path = Path(corpus_dir) / METADATA_FILE
    sources, seen = [], set()
    for position, entry in enumerate(read_raw_entries(corpus_dir), start=1):
        problems = entry_problems(entry)
        if problems:
            raise CorpusError(f"{path}: {entry_label(entry, position)} {'; '.join(problems)} "
                              f"(run `rag corpus check` for every problem)")
        source = Source.model_validate(entry)
        if source.id in seen:
            raise CorpusError(f"{path}: two sources have the id {source.id!r}")
        seen.add(source.id)
        sources.append(source)
    return sources


def institution_patterns(institutions: dict[str, dict]) -> dict[str, re.Pattern]:
    """Each institution's name and aliases as one case-insensitive whole-word pattern: a question naming
    "Amiens" is about the UPJV. Built from sources.json (through the index manifest), so a new institution
    needs no code."""
    return {name: re.compile(r"\b(" + "|".join(re.escape(a.lower()) for a in [name, *info.get("aliases", [])]) + r")(?![a-z0-9])",
                             re.IGNORECASE)
            for name, info in institutions.items()}


def institutions_of(sources: list[Source]) -> dict[str, dict]:
    """{institution: {"aliases", "contact"}} in the order of sources.json (the first is the one an
    abstention names when the question names none), aliases merged over its documents. Without a
    `contact`, the office is the institution's link."""
    result: dict[str, dict] = {}
    for source in sources:
        info = result.setdefault(source.institution, {"aliases": [], "contact": None})
        info["aliases"].extend(a for a in source.institution_aliases if a not in info["aliases"])
        if info["contact"] is None:
            info["contact"] = source.contact
    for name, info in result.items():
        if info["contact"] is None:
            info["contact"] = default_contact(name, next(s.url for s in sources if s.institution == name))
    return result


def default_contact(institution: str, url: str) -> dict[str, str]:
    return {"fr": f"à l'établissement ({institution}) : {url}", "en": f"the {institution}: {url}"}


def today() -> dt.date:
    return dt.date.today()
