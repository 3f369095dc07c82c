"""The staff review page's HTML: the filter form, one row per exchange (cards on a phone), paging, and a
verdict control that shows the stored verdict. Every stored text is escaped: it was typed by students."""

from __future__ import annotations

import datetime as dt
import html
from urllib.parse import urlencode

from ..store import Filters

PAGE_SIZES = (25, 50, 100, 200)
LABELS = {"language": "Language", "abstained": "Abstained", "feedback": "Feedback", "verdict": "Verdict"}
CHOICES = {"abstained": ("yes", "no"), "feedback": ("helpful", "not helpful", "none"),
           "verdict": ("correct", "wrong", "unreviewed")}
# Inline only: the CSP allows no outside style sheet or script (security.py). Below 700px wide the table
# becomes one card per exchange, so a 375px phone never scrolls sideways.
STYLE = """
*{box-sizing:border-box} body{font-family:system-ui,sans-serif;margin:0;color:#1a1a1a;background:#f6f7f9}
main{padding:1rem;max-width:100%} h1{font-size:1.4rem;margin:.2rem 0 1rem}
form.filters{display:flex;flex-wrap:wrap;gap:.6rem 1rem;align-items:end;background:#fff;padding:.8rem;border:1px solid #ccd;border-radius:8px}
form.filters label{display:flex;flex-direction:column;font-size:.85rem;gap:.2rem}
input,select,button{font:inherit;padding:.3rem .4rem;max-width:100%} button{cursor:pointer;background:#1d4ed8;color:#fff;border:0;border-radius:4px;padding:.4rem .8rem}
a{color:#1d4ed8} .bar{display:flex;flex-wrap:wrap;gap:.5rem 1.2rem;align-items:center;margin:.8rem 0}
.notice{background:#e6f4ea;border:1px solid #7bb08a;padding:.4rem .8rem;border-radius:4px}
.rows{overflow-x:auto} table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #ccd;padding:.4rem;vertical-align:top;text-align:left;font-size:.9rem;overflow-wrap:anywhere}
th{background:#eef0f4;overflow-wrap:normal} td.answer{white-space:pre-line;min-width:16rem} .muted{color:#555;font-size:.8rem}
form.review{display:flex;flex-direction:column;gap:.3rem;min-width:12rem} form.review input{width:100%}
.verdict-wrong{background:#fdecea} .verdict-correct{background:#eef8f0}
@media (max-width:700px){
 table,tbody,tr,td{display:block;width:100%} thead{display:none}
 tr{border:1px solid #99a;border-radius:8px;margin:0 0 .8rem;padding:.3rem;background:#fff}
 td{border:0;border-bottom:1px solid #eee} td.answer{min-width:0}
 td::before{content:attr(data-label);display:block;font-weight:600;font-size:.75rem;color:#444}
 form.review{min-width:0}
}
"""
# Dates are sent as UTC (readable without JavaScript) and shown in the reader's own time zone.
LOCAL_TIME = """document.querySelectorAll('time[datetime]').forEach(function(t){var d=new Date(t.getAttribute('datetime'));
if(!isNaN(d)){t.title=t.textContent;t.textContent=d.toLocaleString([],{year:'numeric',month:'short',day:'numeric',hour:'2-digit',minute:'2-digit'});}});"""


def _e(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _select(name: str, current: str, choices, any_label: str = "any") -> str:
    options = [f"<option value=''{' selected' if not current else ''}>{any_label}</option>"]
    options += [f"<option value='{_e(c)}'{' selected' if c == current else ''}>{_e(c)}</option>" for c in choices]
    return f"<select name='{name}' id='f-{name}'>{''.join(options)}</select>"


def _when(created_at: float) -> str:
    moment = dt.datetime.fromtimestamp(created_at, dt.timezone.utc)
    return (f"<time datetime='{moment.strftime('%Y-%m-%dT%H:%M:%SZ')}'>"
            f"{moment.strftime('%Y-%m-%d %H:%M')} UTC</time>")


def _review_form(r: dict, csrf: str, back: str) -> str:
    current = r.get("verdict") or "unreviewed"
    options = "".join(f"<option value='{v}'{' selected' if v == current else ''}>{v}</option>"
                      for v in ("unreviewed", "correct", "wrong"))
    rid = _e(r["id"])
    return (f"<form class='review' method='post' action='/staff/review'><input type='hidden' name='id' value='{rid}'>"
            f"<input type='hidden' name='csrf' value='{_e(csrf)}'><input type='hidden' name='back' value='{_e(back)}'>"
            f"<label>Verdict <select name='verdict' aria-label='Verdict'>{options}</select></label>"
            f"<label>Right answer or passage <input name='correction' value='{_e(r.get('correction') or '')}'></label>"
            f"<button type='submit'>Save</button></form>")


def _row(r: dict, csrf: str, back: str) -> str:
    previous = "".join(f"<div class='muted'>before: {_e(q)}</div>" for q in r.get("history") or [])
    candidates = "<br>".join(f"{_e(c.get('title', '')[:60])} ({float(c.get('score') or 0):.2f})" for c in r["candidates"][:10])
    feedback = _e(r.get("feedback") or "none") + (f"<div class='muted'>{_e(r['comment'])}</div>" if r.get("comment") else "")
    verdict = r.get("verdict") or "unreviewed"
    return (f"<tr id='x-{_e(r['id'])}' class='verdict-{_e(verdict)}'>"
            f"<td data-label='Date'>{_when(r['created_at'])}</td>"
            f"<td data-label='Question'>{previous}{_e(r['question'])}</td><td data-label='Language'>{_e(r['language'])}</td>"
            f"<td data-label='Answer' class='answer'>{_e(r['answer'])}</td>"
            f"<td data-label='Abstained'>{'yes' if r['abstained'] else 'no'}</td>"
            f"<td data-label='Top score'>{float(r.get('top_score') or 0):.2f}</td>"
            f"<td data-label='Candidates'><details><summary>{len(r['candidates'])}</summary>{candidates}</details></td>"
            f"<td data-label='Feedback'>{feedback}</td>"
            f"<td data-label='Review'>{_review_form(r, csrf, back)}</td></tr>")


def render_staff_page(rows: list[dict], csrf: str = "", filters: Filters | None = None, page: int = 1,
                      per_page: int = 50, total: int | None = None, saved: bool = False) -> str:
    filters = filters or Filters()
    total = len(rows) if total is None else total
    pages = max(1, -(-total // per_page))
    query = filters.query()
    back = urlencode({**query, "per_page": per_page, "page": page})

    def link(number: int) -> str:
        return "/staff?" + urlencode({**query, "per_page": per_page, "page": number})

    first = (page - 1) * per_page + 1 if rows else 0
    paging = [f"<span>Rows {first}–{first + len(rows) - 1 if rows else 0} of {total}, page {page} of {pages}</span>"]
    if page > 1:
        paging.append(f"<a rel='prev' href='{_e(link(page - 1))}'>← Previous</a>")
    if page < pages:
        paging.append(f"<a rel='next' href='{_e(link(page + 1))}'>Next →</a>")
    exports = urlencode(query)
    exports = f"?{exports}" if exports else ""
    selects = "".join(f"<label for='f-{name}'>{LABELS[name]}{_select(name, getattr(filters, name), CHOICES[name])}</label>"
                      for name in ("abstained", "feedback", "verdict"))
    sizes = "".join(f"<option{' selected' if n == per_page else ''}>{n}</option>" for n in PAGE_SIZES)
    form = (f"<form class='filters' method='get' action='/staff'>"
            f"<label for='f-q'>Search<input id='f-q' name='q' type='search' value='{_e(filters.q)}' maxlength='200'></label>"
            f"<label for='f-language'>Language<input id='f-language' name='language' size='4' maxlength='16' value='{_e(filters.language)}'></label>"
            f"{selects}"
            f"<label for='f-from'>From (UTC day)<input id='f-from' type='date' name='date_from' value='{_e(filters.date_from or '')}'></label>"
            f"<label for='f-to'>To (UTC day)<input id='f-to' type='date' name='date_to' value='{_e(filters.date_to or '')}'></label>"
            f"<label for='f-size'>Per page<select id='f-size' name='per_page'>{sizes}</select></label>"
            f"<button type='submit'>Filter</button> <a href='/staff'>Clear</a></form>")
    head = "".join(f"<th scope='col'>{h}</th>" for h in ("Date", "Question", "Language", "Answer", "Abstained",
                                                          "Top score", "Candidates", "Feedback", "Review"))
    body = "".join(_row(r, csrf, back) for r in rows) or "<tr><td colspan='9'>No exchange matches these filters.</td></tr>"
    notice = "<p class='notice' role='status'>Verdict saved.</p>" if saved else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Staff review</title><style>{STYLE}</style></head>
<body><main><h1>Exchanges for review</h1>{notice}{form}
<div class="bar"><a href="/staff/export.csv{_e(exports)}">Export CSV (all {total} matching rows)</a>
<a href="/staff/export.jsonl{_e(exports)}">Export reviewed rows as evaluation lines (rag eval --dataset)</a></div>
<nav class="bar" aria-label="Pages">{' '.join(paging)}</nav>
<div class="rows"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>
<nav class="bar" aria-label="Pages, again">{' '.join(paging)}</nav></main><script>{LOCAL_TIME}</script></body></html>"""
