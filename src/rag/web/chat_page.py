"""What the chat page does in the browser (CSS and a little JavaScript): a citation [n] opens its answer's
sources and highlights its card, Copy puts the answer's plain text on the clipboard, Gradio's own thumbs
are named in the interface's language, and <html lang dir> follow that language.
Gradio's sanitiser keeps no event attributes in messages, so one delegated listener does the work."""

from __future__ import annotations

import json

from .. import i18n

CSS = """
#heading h1 {font-size: 1.4rem; margin: 0 0 .2rem 0;}
#heading p {margin: 0;}
/* One Clear button, the page's own (labelled in the interface's language), not also Gradio's icon */
#chat .top-panel {display: none !important;}
#send, #send:hover {background: #1d4ed8; border-color: #1d4ed8; color: #fff;}
.answer p {margin: 0 0 .4em 0;}
/* each block starts where its own text starts: right for Arabic, left for a French quote */
.answer, .answer p, .answer li, .answer summary, .question {text-align: start;}
.answer ul {margin: 0 0 .4em 0; padding-inline: 1.2em;}   /* bullets show whichever way a quote reads */
a.cite {font-weight: 600; text-decoration: underline; padding: 0 .1em; white-space: nowrap;}
details.sources {margin-top: .4em;}
details.sources summary {cursor: pointer; font-weight: 600;}
.source-list {list-style: none; padding: 0; margin: .3em 0 0 0;}
.source-card {border: 1px solid #8a8a8a; border-radius: 8px; padding: 8px 10px; margin: 6px 0; background: #fff; color: #1a1a1a;}
.source-card.highlighted {outline: 3px solid #1d4ed8; outline-offset: 1px; background: #eef4ff;}
.source-card p {margin: 0;}
.source-card .meta {font-size: .85rem; color: #3d3d3d;}
.source-card blockquote {margin: 6px 0; padding: 0; padding-inline-start: 8px; border-inline-start: 3px solid #8a8a8a; font-size: .92rem;}
.source-card mark {background: #ffe58a; color: #1a1a1a;}
.source-link {overflow-wrap: anywhere; font-size: .85rem;}
button.copy-answer {margin-top: .3em; font-size: .85rem; border: 1px solid #6b6b6b; border-radius: 6px; padding: 2px 10px; background: #fff; color: #1a1a1a;}
.question {margin: 0;}
/* Gradio's message styles would show the copy text and the "copied" label */
.answer [hidden] {display: none !important;}
@media (max-width: 640px) {   /* a phone: the question box and Send stay on the first screen */
  #heading h1 {font-size: 1rem;}
  #heading p {font-size: .8rem; line-height: 1.25;}
  #top, #ask-row, #comment-row {flex-wrap: nowrap !important; gap: 6px;}
  #page-language {min-width: 128px !important; padding: 6px 8px !important;}
  #page-language input {padding-inline-end: 16px;}   /* the name clear of the menu's arrow */
}
"""

# The labels of the buttons Gradio draws itself (its thumbs), per interface language.
_LABELS = {code: {"up": i18n.text(code, "ui.like"), "down": i18n.text(code, "ui.dislike")} for code in i18n.LANGUAGES}

_SETUP = """
if (!window.ragChat) {
  const labels = %s, rtl = %s;
  const chat = window.ragChat = {language: null};
  // Gradio's thumbs are told apart by their icon the first time they are seen (their labels are translated).
  const thumb = (b) => {
    if (b.dataset.ragThumb) return b.dataset.ragThumb;
    const d = (b.querySelector('svg path') || {getAttribute: () => ''}).getAttribute('d') || '';
    const role = d.startsWith('M9.75 4.74') ? 'up' : d.startsWith('M2.25 8.11') ? 'down' : '';
    if (role) b.dataset.ragThumb = role;
    return role;
  };
  chat.relabel = () => {
    const words = labels[chat.language];
    if (!words) return;
    document.querySelectorAll('#chat button').forEach((b) => {
      const role = thumb(b);
      if (!role) return;
      if (b.getAttribute('aria-label') !== words[role]) { b.setAttribute('aria-label', words[role]); b.setAttribute('title', words[role]); }
    });
  };
  chat.relabelled = chat.relabel;
  chat.relabel = () => {
    // Gradio names each message element with its raw content ("bot's message: <div class=...>"): markup
    // is no name; the message's own text is what a screen reader should read.
    document.querySelectorAll('#chat [data-testid][aria-label]').forEach((m) => {
      if (/^(bot|user)'s message:/.test(m.getAttribute('aria-label'))) m.removeAttribute('aria-label');
    });
    // a question or comment in Arabic is typed right to left, whatever the interface
    document.querySelectorAll('#question textarea, #comment textarea').forEach((t) => { if (t.dir !== 'auto') t.dir = 'auto'; });
    chat.relabelled();
  };
  chat.setLanguage = (code) => {
    chat.language = code;
    document.documentElement.lang = code;
    document.documentElement.dir = rtl.includes(code) ? 'rtl' : 'ltr';
    chat.relabel();
  };
  // Gradio's language menu stays open when Tab leaves it, over the page: close it as Escape would.
  document.addEventListener('focusout', (event) => {
    const menu = event.target instanceof Element && event.target.closest('#page-language');
    if (menu && event.relatedTarget && !menu.contains(event.relatedTarget))
      event.target.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}));
  }, true);
  // A new answer is shown from its question down, not scrolled to its end: the lead line answers.
  chat.seen = new Set();
  chat.showNewAnswer = () => {
    const all = document.querySelectorAll('#chat .answer');
    all.forEach((a) => {
      if (chat.seen.has(a.id)) return;
      chat.seen.add(a.id);
      const row = a.closest('.message-row'), wrap = a.closest('.bubble-wrap');
      if (a !== all[all.length - 1] || !row || !wrap) return;
      const from = row.previousElementSibling || row;
      wrap.scrollTop += from.getBoundingClientRect().top - wrap.getBoundingClientRect().top - 36;   // below the chat's label
    });
  };
  new MutationObserver(() => { chat.relabel(); chat.showNewAnswer(); }).observe(document.body, {childList: true, subtree: true});
  document.addEventListener('click', (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const cite = target && target.closest('a.cite');
    if (cite) {   // open this answer's sources, highlight the card, move the reader (and focus) to it
      event.preventDefault();
      const card = document.getElementById(cite.getAttribute('href').slice(1));
      if (!card) return;
      const list = card.closest('details');
      if (list) list.open = true;
      document.querySelectorAll('.source-card.highlighted').forEach((c) => c.classList.remove('highlighted'));
      card.classList.add('highlighted');
      card.focus({preventScroll: true});
      card.scrollIntoView({block: 'nearest'});
      return;
    }
    const copy = target && target.closest('button.copy-answer');
    if (copy) {
      const text = copy.closest('.answer').querySelector('.copy-text').textContent;
      const done = () => {
        copy.querySelector('.copy-label').hidden = true; copy.querySelector('.copied-label').hidden = false;
        setTimeout(() => { copy.querySelector('.copy-label').hidden = false; copy.querySelector('.copied-label').hidden = true; }, 2000);
      };
      const fallback = () => {
        const area = document.createElement('textarea');
        area.value = text; document.body.appendChild(area); area.select(); document.execCommand('copy'); area.remove(); done();
      };
      navigator.clipboard ? navigator.clipboard.writeText(text).then(done, fallback) : fallback();
    }
  }, true);
}
""" % (json.dumps(_LABELS, ensure_ascii=False), json.dumps(sorted(i18n.RTL)))

SET_LANGUAGE_JS = "(code) => {" + _SETUP + "window.ragChat.setLanguage(code); return [];}"
