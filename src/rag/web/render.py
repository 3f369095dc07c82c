"""An answer as the chat shows it (HTML, every text escaped) and as the Copy button copies it (plain text).

Each bot message carries its own sources: a collapsed <details> list of cards under the answer, each [n]
of the answer a link to its card. Gradio's chatbot renders these messages as sanitised HTML
(render_markdown=False: nothing here is read as markdown, so '![x](http://host)' or '$' stay text).
"""

from __future__ import annotations

import html
import re
import uuid

from .. import i18n
from ..language import message

_LINE = re.compile(r"^(?P<item>- )?(?P<text>.*?) \[(?P<n>\d+)\]$")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
CONTEXT_CHARS = 220   # of the passage around the quoted sentence: enough to read it in place, short on a phone


def _e(value) -> str:
    return html.escape(str(value or ""), quote=True)


def _direction(language: str) -> str:
    # A message framed in Arabic is laid out right to left even when it leads with a French quote;
    # every block inside still takes its own direction from its text (dir=auto).
    return "rtl" if language in i18n.RTL else "auto"


def question_html(question: str, language: str | None) -> str:
    """The student's message: shown as typed, never run."""
    lang = f" lang='{_e(language)}'" if language else ""
    return f"<p class='question' dir='auto'{lang}>{_e(question)}</p>"


def notice_html(text: str, language: str) -> str:
    """A message from the chat itself (a question it cannot take), in the interface's language."""
    return f"<div class='answer notice' dir='{_direction(language)}' lang='{_e(language)}'><p dir='auto'>{_e(text)}</p></div>"


def _inline(text: str, prefix: str, known: set[int], n: int | None) -> str:
    shown = _BOLD.sub(r"<strong>\1</strong>", _e(text))
    if n is not None and n in known:
        shown += f" <a class='cite' href='#{prefix}-{n}'>[{n}]</a>"
    elif n is not None:
        shown += f" [{n}]"
    return shown


def answer_body(answer: dict, prefix: str) -> str:
    """The answer's lines: the lead line and the supporting quotes (each in its passage's language, with its
    [n] a link to its card), the framing words in the answer's language."""
    citations = {c["n"]: c for c in answer.get("citations") or []}
    frame = i18n.supported(answer.get("language"))
    parts, items = [], []
    for line in (answer.get("answer") or "").split("\n"):
        if not line.strip():
            continue
        match = _LINE.match(line)
        n = int(match.group("n")) if match else None
        quote_lang = citations[n].get("language") or frame if n in citations else frame
        content = _inline(match.group("text") if match else line, prefix, set(citations), n)
        if match and match.group("item"):
            items.append(f"<li dir='auto' lang='{_e(quote_lang)}'>{content}</li>")
            continue
        if items:
            parts.append("<ul>" + "".join(items) + "</ul>")
            items = []
        kind = " class='lead'" if n == 1 else ""
        parts.append(f"<p{kind} dir='auto' lang='{_e(quote_lang)}'>{content}</p>")
    if items:
        parts.append("<ul>" + "".join(items) + "</ul>")
    return "".join(parts)


def _excerpt(text: str, highlight: str) -> str:
    """The passage around the quoted sentence, the sentence marked; the whole passage when it is short."""
    text = " ".join((text or "").split())
    highlight = " ".join((highlight or "").split())
    at = text.find(highlight) if highlight else -1
    if at < 0:
        return _e(text[: 2 * CONTEXT_CHARS] + ("…" if len(text) > 2 * CONTEXT_CHARS else ""))
    start, end = max(0, at - CONTEXT_CHARS), min(len(text), at + len(highlight) + CONTEXT_CHARS)
    if start > 0:   # cut at a word
        space = text.find(" ", start, at)
        start = space + 1 if space >= 0 else start
    if end < len(text):
        space = text.rfind(" ", at + len(highlight), end)
        end = space if space >= 0 else end
    before, after = text[start:at], text[at + len(highlight):end]
    return (("…" if start > 0 else "") + _e(before) + f"<mark>{_e(highlight)}</mark>" + _e(after)
            + ("…" if end < len(text) else ""))


def source_card(citation: dict, card_id: str) -> str:
    """Institution, page title and section, the quoted sentence highlighted in its passage, and the link the
    source names (the document's own address: no deep link is made up). No score: it means nothing to a student."""
    lang = _e(citation.get("language") or "")
    meta = " · ".join(_e(v) for v in (citation.get("institution"), citation.get("section")) if v)
    url = _e(citation.get("url"))
    link = f"<a class='source-link' href='{url}' target='_blank' rel='noopener'>{url}</a>" if url else ""
    return (f"<li class='source-card' id='{card_id}' tabindex='-1' dir='auto' lang='{lang}'>"
            f"<p class='source-title'><span class='source-n'>[{citation['n']}]</span> <strong>{_e(citation.get('title'))}</strong></p>"
            f"<p class='meta'>{meta}</p><blockquote dir='auto' lang='{lang}'>{_excerpt(citation.get('text'), citation.get('highlight'))}</blockquote>"
            f"{link}</li>")


def render_sources(answer: dict, language: str, prefix: str = "src") -> str:
    """An answer's source cards as a collapsed list (empty when it cites nothing)."""
    citations = answer.get("citations") or []
    if not citations:
        return ""
    summary = i18n.text(i18n.supported(language), "ui.sources_count", count=len(citations))
    cards = "".join(source_card(c, f"{prefix}-{c['n']}") for c in citations)
    return (f"<details class='sources' id='{prefix}-sources'><summary dir='auto'>{_e(summary)}</summary>"
            f"<ul class='source-list'>{cards}</ul></details>")


def plain_text(answer: dict) -> str:
    """What Copy puts on the clipboard: the answer without markup, then its sources, each with its link."""
    frame = i18n.supported(answer.get("language"))
    lines = [_BOLD.sub(r"\1", answer.get("answer") or "").strip()]
    citations = answer.get("citations") or []
    if citations:
        lines += ["", message(frame, "sources") + ":"]
        for c in citations:
            where = ", ".join(v for v in (c.get("institution"), c.get("section")) if v)
            lines.append(f"[{c['n']}] {c.get('title', '')}" + (f" ({where})" if where else ""))
            if c.get("highlight"):
                lines.append(f"    « {' '.join(c['highlight'].split())} »" if c.get("language") == "fr"
                             else f"    \u201c{' '.join(c['highlight'].split())}\u201d")
            if c.get("url"):
                lines.append(f"    {c['url']}")
    return "\n".join(lines)


def answer_html(answer: dict, prefix: str | None = None) -> str:
    """One bot message: the answer, its own sources, a Copy button and the plain text it copies."""
    prefix = prefix or "a" + uuid.uuid4().hex[:10]
    frame = i18n.supported(answer.get("language"))
    copy, copied = i18n.text(frame, "ui.copy"), i18n.text(frame, "ui.copied")
    return (f"<div class='answer' id='{prefix}' dir='{_direction(frame)}' lang='{frame}'>"
            f"{answer_body(answer, prefix)}{render_sources(answer, frame, prefix)}"
            f"<button type='button' class='copy-answer'><span class='copy-label'>{_e(copy)}</span>"
            f"<span class='copied-label' hidden>{_e(copied)}</span></button>"
            f"<pre class='copy-text' hidden>{_e(plain_text(answer))}</pre></div>")
