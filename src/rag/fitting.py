"""`rag eval --fit`: the ranker, the answer-sentence model, the confidence, the question-form and the follow-up
models fitted on the training split, the threshold chosen on the dev split, all saved together for the
embedder (fitted.py).
The test split and the blind set are only ever reported. Questions go through the assistant's own code
(Assistant.prepare / readings), reading a conversation's second turn as its label says (a follow-up with
the previous question, a new topic alone)."""

from __future__ import annotations

import dataclasses

import numpy as np

from .answer import sentence_candidates
from .assistant import follow_up_lines, with_previous
from .confidence import question_signals
from .conversation import follow_up_signals
from .fitted import MODEL_KEYS, Fitted, fit_linear
from .retrieval import RetrievalOptions
from .retrieval.words import asked_kinds

REGULARISATION = 1.0   # scikit-learn's C; larger values did not change the dev figures (docs/figures.md)


def _gold(assistant, item):
    """(text, language, search_text, query vector, lines) of a training question, read as its label says;
    `lines`: the vector and text its lines are scored against, when not the query's (a follow-up's)."""
    text, language, previous, vectors = assistant.prepare(item.question, item.history)
    if previous is not None and item.conversation == "follow_up":
        return text, language, f"{text} {previous}", with_previous(vectors), follow_up_lines(text, vectors)
    return text, language, text, vectors[0], None


def fit_ranker(assistant, items, options: RetrievalOptions):
    """Pairs (question, passage) of the answerable training questions: does the passage hold a needle?"""
    from .evaluation import holds_needle

    rows, labels, names = [], [], None
    for item in items:
        if not item.answerable:
            continue
        text, language, search_text, query, _ = _gold(assistant, item)
        signals = assistant.retriever.signals(search_text, query, options, kinds=asked_kinds(text, search_text),
                                              unread=assistant.unread(language, options))
        positive = np.array([holds_needle(c.text, item.needles) for c in assistant.index.chunks], dtype=np.int64)
        if positive.any():
            rows.append(signals.features)
            labels.append(positive)
            names = signals.names
    return fit_linear(np.vstack(rows), np.concatenate(labels), names, c=REGULARISATION)


def fit_sentence(assistant, items, options: RetrievalOptions, quoted: bool = False):
    """The quotable units of the best passages of each answerable training question: does it hold a needle?
    By default the ranker's passages, as the confidence reads them, each line read alone; `quoted`: the quote
    ranker's passages with the induced lexicon's words, as the answer quotes them, each line also read after
    its page title and section (the quote sentence model)."""
    from .evaluation import holds_needle

    rows, labels, weights, names = [], [], [], None
    lexicon = assistant.retriever.lexicon if quoted and options.lexicon else None
    ranker = (assistant.fitted.quote_ranker if quoted else None) or assistant.fitted.ranker
    aligned = quoted and assistant.fitted.quote_ranker is not None
    for item in items:
        if not item.answerable:
            continue
        text, language, search_text, query, lines = _gold(assistant, item)
        kinds, unread = asked_kinds(text, search_text), assistant.unread(language, options)
        line_vector, line_text = lines or (query, search_text)
        extra = lexicon.translations(search_text) if lexicon is not None else ()
        hits, signals = assistant.retriever.retrieve(search_text, query, 10,
                                                     options=options if aligned else options.without("align"),
                                                     ranker=ranker, extra=extra, kinds=kinds, unread=unread)
        units, features, unit_names = sentence_candidates(
            hits, assistant.index, line_vector, line_text, assistant.retriever.sentence_tokens, signals,
            drop=(options if quoted else options.without("context")).drop, extra=extra, kinds=kinds, unread=unread)
        label = np.array([holds_needle(u.text, item.needles) for u in units], dtype=np.int64)
        if units and label.any():
            rows.append(features)
            labels.append(label)
            weights.append(np.full(len(units), 1.0 / len(units)))
            names = unit_names
    # each question counts once, however many lines its passages have: a long FAQ page would otherwise teach the
    # model its own lines' shape
    weight = np.concatenate(weights)
    return fit_linear(np.vstack(rows), np.concatenate(labels), names, c=REGULARISATION,
                      sample_weight=weight * len(weight) / weight.sum())


def fit_confidence(assistant, items, options: RetrievalOptions):
    """One row per training question (small talk aside): do the texts answer it?"""
    rows, labels, names = [], [], None
    plain = dataclasses.replace(options, lexicon=False).without("align")   # the question's own words only
    for item in items:
        text, language, search_text, query, lines = _gold(assistant, item)
        reading = assistant.reading(text, language, search_text, query, options=plain, lines=lines)
        # the passages and lines the confidence reads when answering (Assistant.reading's first reading), not the
        # quoted ones: those are ranked by the quote ranker and their lines scored by the quote sentence model
        row, names = question_signals(assistant.retriever, text, search_text, language, *reading.judged,
                                      drop=options.drop)
        rows.append(row)
        labels.append(int(item.answerable))
    return fit_linear(np.vstack(rows), np.array(labels), names, c=REGULARISATION)


FORM_FOLDS = 5


def fit_form(assistant, items):
    """The training questions (small talk aside) by their vectors: does the wording lean on an earlier turn
    (a follow-up's second turn) or stand alone (every other question)? Returns the model and, for each
    training question, its out-of-fold log-odds, so the follow-up model is fitted on values like those it
    will see on new questions, not on questions the form model has learnt."""
    texts = [item.question for item in items]
    labels = np.array([int(item.conversation == "follow_up") for item in items])
    if labels.sum() < FORM_FOLDS or (1 - labels).sum() < FORM_FOLDS:
        return None, {}
    model, out_of_fold = _fit_on_vectors(np.vstack([assistant.prepare(text)[3][0] for text in texts]), labels)
    return model, dict(zip(texts, out_of_fold))


def _fit_on_vectors(vectors: np.ndarray, labels: np.ndarray, shuffle: bool = False):
    """A logistic regression over whole question vectors, and each row's log-odds from the model fitted on the
    other folds. `shuffle`: folds drawn at random (rows grouped by their source would otherwise make folds of one
    source each)."""
    from sklearn.model_selection import StratifiedKFold

    names = [f"vector.{i}" for i in range(vectors.shape[1])]
    out_of_fold = np.zeros(len(labels))
    folds = StratifiedKFold(FORM_FOLDS, shuffle=True, random_state=0) if shuffle else StratifiedKFold(FORM_FOLDS)
    for fit_rows, held_out in folds.split(vectors, labels):
        part = fit_linear(vectors[fit_rows], labels[fit_rows], names, c=REGULARISATION)
        out_of_fold[held_out] = part.decision(vectors[held_out], names)
    return fit_linear(vectors, labels, names, c=REGULARISATION), out_of_fold


SMALL_TALK_FALSE_RATE = 0.001   # out-of-fold share of the training questions the small-talk cut may take for small talk


def fit_small_talk_model(assistant, items):
    """Every message of the training split (small talk or not) and the pleasantries themselves (conversation.py)
    by their vectors: is it small talk? A logistic regression like the question-form model. Returns it and the cut
    of its log-odds: the lowest at which, out of fold, at most SMALL_TALK_FALSE_RATE of the training questions pass.
    A question taken for small talk goes unanswered, where a pleasantry taken for a question is mostly refused;
    and short questions in the languages the training split holds least of ("nganh gi vay", Vietnamese without
    accents) sit nearer the pleasantries than the model's own even odds. (None, 0) with fewer than FORM_FOLDS
    small-talk messages to learn from."""
    from .conversation import SMALL_TALK
    from .retrieval.words import answer_types

    texts = [(item.question, item.history) for item in items] + [(phrase, None) for phrase in SMALL_TALK]
    labels = np.array([int(item.small_talk) for item in items] + [1] * len(SMALL_TALK))
    if sum(item.small_talk for item in items) < FORM_FOLDS:
        return None, 0.0
    # the pleasantries come last, after the training messages: folds drawn at random mix them
    model, out_of_fold = _fit_on_vectors(
        np.vstack([assistant.prepare(text, history)[3][0] for text, history in texts]), labels, shuffle=True)
    # as answering reads it: a message asking for a fact is never small talk
    questions = np.array([not answer_types(text) for text, _ in texts]) & (labels == 0)
    passing = np.sort(out_of_fold[questions])[::-1]
    allowed = int(SMALL_TALK_FALSE_RATE * (labels == 0).sum())
    cut = max(0.0, float(passing[allowed]) + 1e-6) if allowed < len(passing) else 0.0
    return model, round(cut, 4)


def fit_follow_up(assistant, items, options: RetrievalOptions, form_out_of_fold: dict | None = None):
    """Second turns of training conversations: does the question depend on the previous one?"""
    rows, labels, names = [], [], None
    for item in items:
        if item.conversation not in ("follow_up", "new_topic") or not item.history:
            continue
        text, language, previous, vectors = assistant.prepare(item.question, item.history)
        alone, together, closeness = assistant.readings(text, language, previous, vectors, options=options)
        form = (form_out_of_fold or {}).get(item.question, assistant.question_form(vectors[0]))
        row, names = follow_up_signals(text, language, alone.confidence, together.confidence, closeness, form)
        rows.append(row)
        labels.append(int(item.conversation == "follow_up"))
    if len(set(labels)) < 2:
        return None
    return fit_linear(np.vstack(rows), np.array(labels), names, c=REGULARISATION)


def fit_small_talk(assistant, items) -> tuple[float, dict[str, float]]:
    """The similarity to the pleasantries from which a short message is small talk (training split): of the
    combined vectors, and of each model's own (any one passed is enough, conversation.SmallTalk)."""
    from .conversation import SMALL_TALK_MAX_CONTENT_WORDS, choose_small_talk_threshold, content_words

    similarities, own, labels = [], [], []
    for item in items:
        text, language, _, vectors = assistant.prepare(item.question, item.history)
        if content_words(text, language) <= SMALL_TALK_MAX_CONTENT_WORDS:
            similarities.append(assistant.pleasantries.similarity(vectors[0]))
            own.append(assistant.pleasantries.model_similarities(vectors[0]))
            labels.append(item.small_talk)
    models = own[0].keys() if own else ()
    return (choose_small_talk_threshold(similarities, labels),
            {name: choose_small_talk_threshold([o[name] for o in own], labels) for name in models})


def fit_cosine_scales(assistant, items) -> dict[str, list[float]]:
    """Each model's typical mean and spread of cosines on one training question it reads, per kind (passages,
    lines, lines read in context): the scale a model's borrowed cosines are put on (retrieval.Borrowing)."""
    index = assistant.index
    found: dict[str, list[tuple[float, float]]] = {}
    for item in items:
        text, language, search_text, query, _ = _gold(assistant, item)
        if assistant.unread(language) is not None:
            continue
        for kind, vectors in (("chunk", index.chunk_vectors), ("sentence_all", index.sentence_vectors),
                              ("context", index.sentence_context_vectors)):
            for model, values in (index.cosines(vectors, query) if vectors is not None else {}).items():
                found.setdefault(f"{model}|{kind}", []).append((float(values.mean()), float(values.std())))
    return {key: [round(float(np.mean([m for m, _ in pairs])), 6), round(float(np.mean([s for _, s in pairs])), 6)]
            for key, pairs in found.items()}


def fit(assistant, items, options: RetrievalOptions | None = None, max_false_abstention: float = 0.03,
        only: frozenset[str] | None = None) -> Fitted:
    """Fit the models on the train split, install them in `assistant`, choose the threshold on dev. `only`: fit
    just these models (fitted.MODEL_KEYS), keeping the assistant's others as they are (refit_only)."""
    from .evaluation import choose_threshold, run, sweep

    options = options or RetrievalOptions()
    train = [i for i in items if i.split == "train" and not i.small_talk]
    dev = [i for i in items if i.split == "dev"]
    if not train or not dev:
        from .errors import DatasetError

        raise DatasetError("fitting needs questions of a train split and of a dev split (the \"split\" field)")
    chat = [i for i in items if i.split == "train" and i.small_talk]   # the small-talk model's positives
    if only:
        fitted = refit_only(assistant, train, options, only, chat)
    else:
        fitted = Fitted(ranker=None, confidence=None, threshold=0.5,
                        info={"fitted_on": "train", "threshold_on": "dev", "train_questions": len(train),
                              "dev_questions": len(dev), "dropped": sorted(options.drop), "glossary": options.glossary})
        if len(assistant.index.models) > 1:
            fitted.info["cosine_scales"] = fit_cosine_scales(assistant, train)
        _fit_in_order(assistant, fitted, train, options, frozenset(MODEL_KEYS), chat)
        fitted.info["small_talk_similarity"], cuts = fit_small_talk(assistant, [i for i in items if i.split == "train"])
        if cuts:
            fitted.info["small_talk_model_cuts"] = cuts
    rows = sweep(run(assistant, dev), thresholds=[round(0.01 * i, 2) for i in range(1, 100)])
    chosen = choose_threshold(rows, max_false_abstention=max_false_abstention)
    fitted.threshold = chosen["threshold"]
    fitted.info["threshold_rule"] = (f"best answer_accuracy + abstention_accuracy on dev with false_abstention_rate <= "
                                     f"{max_false_abstention}, middle of a run of tied thresholds")
    return fitted


def refit_only(assistant, train, options: RetrievalOptions, only: frozenset[str], chat=()) -> Fitted:
    """The assistant's fitted models with only those named in `only` fitted again on `train`, recorded in the
    info's "refitted". A model refitted alone keeps the others' behaviour: more training questions for the model
    that picks the first line need not move the confidence the threshold was chosen for."""
    import copy

    unknown = sorted(set(only) - set(MODEL_KEYS))
    if unknown:
        from .errors import InvalidSettingError

        raise InvalidSettingError(f"--fit: no model called {', '.join(unknown)} (the models: {', '.join(MODEL_KEYS)})")
    fitted = copy.deepcopy(assistant.fitted)
    _fit_in_order(assistant, fitted, train, options, only, chat)
    fitted.info = {**fitted.info, "refitted": [*fitted.info.get("refitted", []),
                                               {"models": sorted(only), "train_questions": len(train)}]}
    return fitted


def _fit_in_order(assistant, fitted: Fitted, train, options: RetrievalOptions, models: frozenset[str],
                  chat=()) -> None:
    """Fit `models` into `fitted` (installed in `assistant`) in the order they read one another: the rankers,
    then the sentence models (on the rankers' passages), the confidence (on both), the question-form model and
    the follow-up model (on the form model's out-of-fold log-odds when it is fitted too, else the installed one's),
    and the small-talk model (on `train` and `chat`, the training split's small talk)."""
    install(assistant, fitted, options)   # each model fitted below is read, through it, by those after it
    # the ranker the confidence reads goes without the word alignment; the quote ranker, with it
    if "ranker" in models:
        fitted.ranker = fit_ranker(assistant, train, options.without("align"))
    if "quote_ranker" in models and assistant.retriever.lexicon is not None and "align" not in options.drop:
        fitted.quote_ranker = fit_ranker(assistant, train, options)
    if "sentence" in models:
        fitted.sentence = fit_sentence(assistant, train, options)
    if "quote_sentence" in models:
        fitted.quote_sentence = fit_sentence(assistant, train, options, quoted=True)
    if "confidence" in models:
        fitted.confidence = fit_confidence(assistant, train, options)
    form_out_of_fold = None
    if "form" in models:
        fitted.form, form_out_of_fold = fit_form(assistant, train)
    if "follow_up" in models:
        fitted.follow_up = fit_follow_up(assistant, train, options, form_out_of_fold)
    if "small_talk" in models:
        fitted.small_talk, fitted.info["small_talk_log_odds_cut"] = fit_small_talk_model(assistant, [*train, *chat])


def install(assistant, fitted: Fitted, options: RetrievalOptions | None = None) -> None:
    assistant.fitted = fitted
    if options is not None:
        assistant.retriever.options = options
