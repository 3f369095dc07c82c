"""Stage 6: how likely the texts answer the question, from the evidence of the retrieval, by a fitted model.

The evidence (signals) of one question, each a column the logistic regression of fitted.py weighs:
- how well the best passage matches: the ranker's log-odds, its margin over the next passage, each model's
  cosine for the best passage and for the corpus's closest sentence, and its mean cosine with the question's
  ten nearest passages (how near the texts the question sits at all), BM25;
- whether some line of the best passages holds the fact asked: the answer-sentence model's best score;
- how much of the question's own wording the best passage holds (accents folded);
- what the question names that the texts never do (a capitalised word past the first, a year), and names
  so rare that only the best passage uses them (PAEH, OID);
- a university named whose passage is not the best one (a kind of fact asked that none of the three best
  passages holds was evidence too, until measured: without it the dev and blind AUC both rose);
- whether the question is in one of the languages the texts are written in (from sources.json;
  cross-language cosines run lower).
The weights and the threshold are fitted (train split) and chosen (dev split) by `rag eval --fit`.
One rule stands beside the model (fact_not_held): a telephone number, opening hours, a price or a number of
things asked for, or a year named, that the passage the answer would lead with does not hold.
"""

from __future__ import annotations

import math
import re

import numpy as np

from .index import HUB_NEIGHBOURS, mean_of_largest
from .retrieval import Hit, Signals
from .retrieval.names import named_institutions
from .retrieval.words import ANSWER_TYPES, YEAR, tokenize

GROUPS = ("rank", "models", "lead", "bm25", "coverage", "names", "institution", "language", "unheld")

# How French and English texts give a number to call: a full number ("03 27 51 12 34", "+33 …"), a list of short
# numbers ("- 15 : SAMU", "- 112 : numéro d'urgence européen"), or a short one after a verb ("appelez le 116 117").
_NUMBER_TO_CALL = re.compile(
    r"(?:\+|\b0)\d(?:[\s.\u00a0-]?\d{2}){4}\b"
    r"|^[\s\-•*]*\d{2,4}(?:\s\d{3})?\s*:"
    r"|\b(?:appel\w*|compos\w*|call|dial|num[ée]ro|n°|t[ée]l\.?)\s+(?:le\s+|au\s+)?\d{2,4}(?:\s\d{3})?\b",
    re.IGNORECASE | re.MULTILINE)
# a price is held by an amount, or by saying there is none to pay ("gratuit", "free of charge")
_PRICE = re.compile(ANSWER_TYPES["money"][1].pattern
                    + r"|\b(gratuit\w*|free|sans frais|aucun frais|no fees?|pris en charge|exon[ée]r\w*)\b", re.IGNORECASE)
# a number of things is held by a figure, or by a number written out as the texts' languages write them
# ("cinq aéroports", "meets once a quarter"); "un"/"one" are left out: every line holds them
_NUMBER = re.compile(r"\d|\b(deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|quinze|vingt|trente|cent|mille|"
                     r"fois|two|three|four|five|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|hundred|thousand|"
                     r"once|twice|dozens?|douzaines?|centaines?|milliers?)\b", re.IGNORECASE)
# Facts of a form no paraphrase hides, and what holds each. When the question asks for one and the passage
# the answer would lead with holds none, the texts do not give it, however close the topic ("the health
# centre's phone number" on a page that gives only its address, "the fee to join ESN" on its page without a
# price; an amount in another passage is another thing's price). A rule, not a fitted signal: too few
# training questions ask for these for the model to learn it (docs/figures.md, sessions 9 and 10, has the
# rule's figures; dates were left out: their forms are too many, "en octobre", "chaque semestre").
UNMISTAKABLE_FACTS = {"phone": _NUMBER_TO_CALL, "hours": ANSWER_TYPES["hours"][1], "money": _PRICE, "count": _NUMBER}


def fact_not_held(kinds: frozenset[str], lead: str, question: str = "") -> bool:
    """Does the passage the answer would lead with (`lead`, its text) lack the fact asked?
    'What is the phone number of the health centre?' and no number to call in it -> True; 'How much does the
    course cost?' and no amount, nor "gratuit", in it -> True; 'Quelle est la date limite Parcoursup en 2027 ?'
    and no "2027" in it (its dates are another year's) -> True."""
    if any(year not in lead for year in YEAR.findall(question)):
        return True
    if "money" in kinds:
        kinds = kinds - {"count"}   # "combien coûte…" asks for an amount, which a bare number is not
    wanted = [UNMISTAKABLE_FACTS[kind] for kind in kinds if kind in UNMISTAKABLE_FACTS]
    return bool(wanted) and not any(form.search(lead) for form in wanted)


def question_signals(retriever, text: str, search_text: str, language: str, hits: list[Hit], signals: Signals,
                     quotes=None, drop: frozenset[str] = frozenset()) -> tuple[np.ndarray, list[str]]:
    """The evidence about one question (see the module's docstring) as a row and its column names."""
    values: dict[str, float] = {}
    best = hits[0]
    if "rank" not in drop:
        values["rank.top"] = best.score
        values["rank.margin"] = best.score - hits[1].score if len(hits) > 1 else 0.0
    if "models" not in drop:
        for name, parts in signals.per_model.items():
            values[f"{name}.best_chunk"] = float(parts["chunk"][best.position])
            values[f"{name}.best_sentence"] = float(parts["sentence"][best.position])
            values[f"{name}.closest_sentence"] = float(parts["sentence_all"].max())
            # how close the question sits to its nearest passages at all: a vague question is near many (the
            # density CSLS subtracts on the question's side, as the sentence model does on the line's)
            values[f"{name}.nearest_passages"] = float(mean_of_largest(parts["chunk"], HUB_NEIGHBOURS))
    if "lead" not in drop and quotes is not None:
        values["lead.best"] = quotes.best   # the sentence model: is there a line that holds the fact asked?
    if "bm25" not in drop:
        values["bm25.top_log"] = math.log1p(best.lexical_raw)
        values["bm25.max_log"] = math.log1p(float(signals.lexical_raw.max()))
    if "coverage" not in drop:
        own = set(tokenize(text))
        values["coverage.best"] = len(own & retriever.chunk_tokens[best.position]) / len(own) if own else 0.0
        values["coverage.has_words"] = 1.0 if own else 0.0
    if "names" not in drop:
        values["names.unknown"] = float(min(2, len(retriever.unknown_names(text, language))))
        values["names.unknown_years"] = float(min(1, len(retriever.unknown_years(text))))
        values["names.rare_in_best"] = 1.0 if retriever.rare_names(text, best) else 0.0
    if "institution" not in drop:
        named = named_institutions(search_text, retriever.index.institutions)
        values["institution.other"] = 1.0 if len(named) == 1 and best.chunk.institution not in named else 0.0
    if "language" not in drop:
        values["language.corpus"] = 1.0 if language in retriever.index.languages else 0.0
    names = list(values)
    return np.array([values[n] for n in names], dtype=np.float64), names
