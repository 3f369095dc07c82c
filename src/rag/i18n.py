"""One message catalogue for the chat's interface and the answers' framing: gettext .po files under
src/rag/locale/<lang>/LC_MESSAGES/rag.po, compiled to the .mo files beside them (package data, committed;
tests/test_i18n.py checks that each .mo says what its .po says). Reading needs only the standard library;
`python -m rag.i18n` recompiles after editing a .po (Babel, a test dependency).

msgids are keys ("ui.send", "answer.also"): English is a translation like the others, and a key missing
from a language falls back to English.
"""

from __future__ import annotations

import functools
import gettext
import re
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "rag"
# The languages the interface and the answers' framing speak, by their own names (the language menu).
LANGUAGES = {"en": "English", "fr": "Français", "es": "Español", "pt": "Português", "de": "Deutsch",
             "it": "Italiano", "ar": "العربية", "zh": "中文", "ru": "Русский", "tr": "Türkçe", "pl": "Polski",
             "nl": "Nederlands", "vi": "Tiếng Việt", "ja": "日本語", "ko": "한국어"}
DEFAULT = "en"
RTL = frozenset({"ar"})


@functools.lru_cache(maxsize=None)
def catalogue(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of `language` with English behind it; an unknown language is English."""
    english = gettext.translation(DOMAIN, LOCALE_DIR, languages=[DEFAULT])
    if language == DEFAULT or language not in LANGUAGES:
        return english
    # fallback: a language listed before its .mo is compiled reads English (`python -m rag.i18n` can run)
    table = gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)
    table.add_fallback(english)
    return table


def text(language: str, key: str, **values) -> str:
    """The message `key` in `language`, with {placeholders} filled: text("fr", "ui.send") -> 'Envoyer'."""
    message = catalogue(language).gettext(key)
    return message.format(**values) if values else message


def supported(language: str | None) -> str:
    """`language` if the catalogue has it, else English: what framing words an answer in `language` gets."""
    return language if language in LANGUAGES else DEFAULT


_RANGE = re.compile(r"\s*([A-Za-z]{1,8})(?:[-_][A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$")


def choose(preferences: str | None) -> str:
    """The interface language for an Accept-Language header or a navigator.language value:
    'fr-FR,fr;q=0.9,en;q=0.8' -> 'fr'; 'pt-BR' -> 'pt'; 'ru,ja' -> 'en'."""
    ranked = []
    for position, part in enumerate((preferences or "").split(",")[:20]):
        match = _RANGE.match(part)
        if not match:
            continue
        try:
            weight = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        ranked.append((-weight, position, match.group(1).lower()))
    for weight, _, language in sorted(ranked):
        if weight < 0 and language in LANGUAGES:
            return language
    return DEFAULT


def compile_catalogues(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """Every .po under `locale_dir` to its .mo (Babel)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parts[-3])
        mo = po.with_suffix(".mo")
        with mo.open("wb") as target:
            write_mo(target, catalog)
        written.append(mo)
    return written


if __name__ == "__main__":
    for path in compile_catalogues():
        print(path)
