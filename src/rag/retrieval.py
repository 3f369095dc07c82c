"""Stage 5: a question to ranked passages (hits).

The ranking adds up, for every chunk:
- dense similarity: the cosine of the question with the chunk (title and heading included) and with
  the chunk's best sentence, averaged (sentence-level matching: a short question matches one line
  of a long passage better than the whole passage);
- lexical evidence: BM25 (bm25s) over accent-folded words, scaled to [0, 1] and weighted, so that names,
  acronyms and addresses (EUNICE, PAEH, Mermoz, erasmus@uphf.fr) pull their passages up even when the
  multilingual embedding blurs them;
- routing: a bonus for passages of the institution the question names (names and aliases from
  sources.json: UPJV, Amiens, Lille, UPHF, Valenciennes...);
- answer type: a bonus for passages holding the kind of fact asked (an amount for "how much", an
  address for "which e-mail", a date for "when").
- word alignment: each content word of the question against its closest word of the passage, by the
  induced lexicon's word vectors (lexicon.py), so a passage that speaks of what a German or Arabic
  question names ranks above one that only shares its topic.
Each component's effect on the evaluation set is in docs/figures.md's table and in `rag eval --report`.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache
from dataclasses import dataclass, field, replace

import numpy as np

from .chunking import Chunk
from .index import Index

# Folded-accent stop words of the question languages the lexical side sees (French and English text,
# questions in any Latin-script language); without them BM25 rewards "de", "la", "the".
STOPWORDS = frozenset("""
a au aux avec ce ces cette comment combien dans de des du elle en est et etre il ils je la le les leur
mais me mon ne nos notre nous on ou par pas pour qu que quel quelle quels quelles qui sa se ses son sur ta
te tes ton tu un une vos votre vous y l d s c j n m qu est-ce ai as avez ont sont faut peut puis
the of and to in for on at by is are was be do does did how what which who whom where when why can i my
me you your we our it its an or with from as this that there their they much many any about into
el la los las del un una que como cual cuanto cuanta cuantos donde cuando para por con es son se mi
o os um uma do da dos das em no na como qual quanto onde quando para com e sao
der die das den dem des ein eine einen ist sind wie was wo wann fur mit und zu im am ich kann
il lo gli i le un una di del della che come quale quanto dove quando per con e sono posso
""".split())
# A word, hyphenated compounds split: the corpus's "Hauts-de-France" must count "Hauts" as known.
_NAME = re.compile(r"[^\W\d_]\w*")
_TOKEN = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|[a-z0-9]+")
# Student words in the question languages -> the French words the texts use. Only the lexical side
# sees these; the dense side is multilingual already. Keys are folded (no accents); a key in a
# non-Latin script is matched as a substring of the question.
GLOSSARY = {
    "bourse allocation montant": "grant scholarship allowance beca bolsa stipendium borsa منحة 奖学金 助学金",
    "mois mensuel": "month monthly mes mensual mensal monat monatlich mese mensile شهر 每月 每个月",
    "logement": "housing accommodation alojamiento alojamento unterkunft wohnung alloggio سكن 住房 住宿",
    "stage": "internship traineeship placement practicas pasantia estagio praktikum tirocinio تدريب 实习",
    "handicap": "disability disabled discapacidad deficiencia behinderung disabilita إعاقة 残疾",
    "candidature candidater": "apply application solicitar solicito candidatar bewerben bewerbe candidarsi 申请",
    "entrante accueil": "incoming llegan chegam ankommende arrivo القادمين 来访",
    "sortante etranger": "outgoing abroad extranjero exterior ausland estero الخارج 出国",
    "contact mail": "courriel email e-mail correo contactar contactar kontakt contattare indirizzo البريد 联系 邮件",
    "etrangers internationaux": "foreign international extranjeros estrangeiros auslandische stranieri الأجانب الدوليين 外国 国际",
    "echange mobilite": "exchange intercambio intercambio austausch scambio تبادل 交换",
    "certification": "certificate certification certificacion certificado zertifikat sprachzertifikat certificazione شهادة 证书",
    "langues": "language languages idiomas linguas sprachen lingue لغة 语言",
    "formations": "degree programmes programs courses cursos studiengange corsi برامج 课程 专业",
    "campus": "campuses campi standort standorte 校区 حرم",
    "chercheur": "researcher investigador pesquisador forscher ricercatore باحث 研究员",
    "partenariats partenaires": "partner partnership partnerships asociaciones parcerias partnerschaften partenariati شراكة 合作",
    "personnel": "staff personal personale mitarbeiter موظفين 员工",
    "cumulable": "combine combined cumulative kombinieren combinar cumulare الجمع 同时",
    "frais": "fees tuition tasas propinas gebuhren tasse رسوم 学费",
    "creee creation": "founded created established fundada gegrundet fondata تأسست 成立",
    "etudiants": "students estudiantes studenten studenti طلاب 学生",
    "recrutement": "job jobs employment vacancies hiring recruitment empleo trabajo emprego stellenangebote lavoro "
                   "emploi emplois وظائف 招聘 工作",
}
# A question word at least this long that starts with a glossary word counts as it (dev: +1 question, the
# German 'Sprachzertifikate'; test unchanged).
GLOSSARY_PREFIX_CHARS = 6
# Question words asking for a kind of fact, in the assistant's languages, and what that fact looks like
# in the French and English texts. Retrieval gives passages holding the asked-for kind a small bonus;
# the answer prefers the sentence that holds it.
ANSWER_TYPES = {
    # a sum of money: "how much is the grant", "combien touche-t-on", "cuánto es la beca", "prix", "学费"
    "money": (re.compile(r"\b(how much|montant|amount|cu[aá]nto (?:es|son|vale|cuesta|cobra|dan|pagan|recib\w*)|quant[oa] (?:é|e|è|vale|paga\w*|ricev\w*|receb\w*|d[aã]o|danno)|wie ?viel|wie hoch|betrag|importo|valor|prix|"
                         r"price|prices|co[uû]t\w*|costs?|tarifs?|fees?|precio|cuesta\w*|custa\w*|pre[cç]o|kostet|kosten|preis|"
                         r"costa\w*|prezzo|combien d'euros)\b|\bcombien\s+(co[uû]t|touch|gagn|pai|pay|donn|re[cç]oi|vaut|rapport|vers)|"
                         r"多少钱|金额|价格|费用|学费|سعر|تكلفة|تبلغ", re.IGNORECASE),
              re.compile(r"\d[\d  .,]*\s*(€|euros?\b)|€\s*\d", re.IGNORECASE)),
    # a number of things: "how many campuses", "combien d'étudiants", "cuántos", "几个"
    "count": (re.compile(r"\b(how many|combien|cu[aá]nt[oa]s|quant[oa]s|quant[ie]|wie viele)\b|几个|多少(?!钱)|كم عدد", re.IGNORECASE),
              re.compile(r"\d")),
    "address": (re.compile(r"\b(e-?mail|courriel|mail|adresse|address|correo|contact\w*|kontakt\w*|contatt\w*|whom?)\b|"
                           r"\b(qui|quem|qui[eé]n|wer|chi)\b.*\b(contacter|contactar|contattare|kontaktieren|écrire)|البريد|邮件|邮箱|联系", re.IGNORECASE),
                re.compile(r"@|https?://|www\.")),
    "date": (re.compile(r"\b(quand|depuis quand|when|since when|cu[aá]ndo|desde cu[aá]ndo|quando|wann|seit wann|date|year|ann[ée]e)\b|"
                        r"متى|什么时候|何时|哪一年", re.IGNORECASE),
             re.compile(r"\b(1[89]|20)\d\d\b|\b(janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|novembre|"
                        r"d[ée]cembre|january|february|march|april|may|june|july|august|september|october|november|december)\b",
                        re.IGNORECASE)),
    # a telephone number: "phone number", "numéro de téléphone", "telefono", "电话"
    "phone": (re.compile(r"\b(t[ée]l[ée]phone\w*|phone|tel|t[ée]l[ée]fono|telefone|telefon\w*|call|appeler|llamar|ligar|"
                         r"anrufen|chiamare)\b|电话|هاتف|رقم", re.IGNORECASE),
              re.compile(r"(?:\+|\b0)\d(?:[\s.\u00a0-]?\d{2}){4}\b")),
    # a time of day: "opening hours", "à quelle heure", "horario", "几点"
    "hours": (re.compile(r"\b(horaires?|heures? d'ouverture|quelle heure|opening hours|opening times|what time|horarios?|"
                         r"a qu[eé] hora|que horas|orari\w*|a che ora|öffnungszeiten|uhrzeit)\b|几点|营业时间|开放时间|ساعات", re.IGNORECASE),
              re.compile(r"\b\d{1,2}\s?h\s?\d{0,2}\b|\b\d{1,2}:\d{2}\b|\b\d{1,2}\s?(am|pm)\b", re.IGNORECASE)),
}
# A name used by this few passages identifies its topic (PAEH, OID, Reunice, InclusU); see Retriever.rare_names.
RARE_NAME_PASSAGES = 2
@dataclass(frozen=True)
class RetrievalOptions:
    """What the ranking may use. The evaluation's ablations leave a group of signals out and refit the
    ranking and the confidence without it (see fitting.py), so each row measures a stage, not a weight."""

    # signal groups left out: see Retriever.GROUPS and confidence.GROUPS; "borrow": a model that does not read
    # the question's language keeps its own cosines (Borrowing)
    drop: frozenset[str] = frozenset()
    glossary: bool = True                # the lexical side also searches the student glossary's French words
    lexicon: bool = True                 # passages are found and quoted with the induced lexicon too (lexicon.py)

    def without(self, *groups: str) -> "RetrievalOptions":
        """These options with the signal groups `groups` left out too."""
        return replace(self, drop=self.drop | frozenset(groups))


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    position: int          # row of the chunk in the index
    score: float           # the fitted ranking's log-odds that this passage answers
    dense: float           # mean cosine (chunk and best sentence) over the models
    lexical_raw: float     # BM25 as it is: how much of the question's wording the passage holds
    sentence: int          # index (into Index.sentences) of the chunk's best-matching sentence


def fold(text: str) -> str:
    """Lower case without accents: 'Étudiant Été' -> 'etudiant ete'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokenize(text: str) -> list[str]:
    """'Contact : erasmus@uphf.fr, les Bourses' -> ['contact', 'erasmus@uphf.fr', 'mail', 'erasmu', 'uphf', 'fr', 'bourse']"""
    tokens = []
    for token in _TOKEN.findall(fold(text)):
        if "@" in token:
            tokens += [token, "mail"]  # a passage giving an address answers "which e-mail / courriel?"
            tokens.extend(t for t in re.findall(r"[a-z0-9]+", token) if t not in STOPWORDS)
        elif token not in STOPWORDS:
            tokens.append(token[:-1] if len(token) > 4 and token.endswith("s") else token)
    return tokens


@lru_cache(maxsize=4096)
def expand_query(question: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The question's lexical tokens plus the French words its student vocabulary maps to, plus `extra`
    (the induced lexicon's reading of its other words, lexicon.py) (cached: the retrieval and the answer ask
    for the same question's words).

    'How much is the Erasmus grant per month?' -> (..., 'erasmus', 'grant', 'month', 'bourse', 'allocation', 'montant', 'mois', 'mensuel')
    """
    tokens = tokenize(question)
    present = set(tokens)
    # Inflected and compound forms: 'Sprachzertifikate', 'certificaciones', 'studenti' start with the
    # glossary's word. Short words are left out ('stage' would match 'stagiaire' and 'stages' alike).
    prefixes = {t[:k] for t in present for k in range(GLOSSARY_PREFIX_CHARS, len(t) + 1)}
    folded = fold(question)
    mapped = []
    for french, words in _GLOSSARY_INDEX:
        if any(w in folded if not w.isascii() else (w in present or w.rstrip("s") in present or
                                                     (len(w) >= GLOSSARY_PREFIX_CHARS and w in prefixes))
               for w in words):
            mapped.extend(french)
    added = [t for t in mapped if t not in present]
    return tuple(tokens + added + [t for t in extra if t not in present and t not in added])


# The French side goes through the same folding and plural-stripping as the indexed text, or
# "etudiants" would never meet the index's "etudiant".
_GLOSSARY_INDEX = [(tokenize(french), words.split()) for french, words in GLOSSARY.items()]


@lru_cache(maxsize=4096)
def answer_types(question: str) -> frozenset[str]:
    """What kind of fact the question asks for: 'How much is the grant?' -> {'money'} (cached: ranking,
    confidence and the answer each ask)."""
    return frozenset(kind for kind, (asks, _) in ANSWER_TYPES.items() if asks.search(question))


def asked_kinds(question: str, search_text: str) -> frozenset[str]:
    """The kind of fact a reading asks for: the question's own ('who do I write to about it?' -> an address,
    though the previous question it is read with asked an amount), or, when it names none ('and for a
    master?'), the previous question's, carried in `search_text`."""
    return answer_types(question) or answer_types(search_text)


YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")   # a year a question names: "Parcoursup 2027"


# Zipf frequency (wordfreq) from which a capitalised word counts as an ordinary word of the language, not a
# name: 4 is about once in 100,000 words.
COMMON_WORD_ZIPF = 4.0
# The languages that capitalise every noun: there ordinary nouns go down to a lower frequency, and an inflected
# one is checked by its Snowball stem (snowballstemmer). Elsewhere a capitalised word is mostly a name; stemming
# there too refused fewer out-of-scope questions on blind (docs/figures.md, session 6).
CAPITALISED_NOUNS = {"de": (3.0, "german")}   # language: (zipf, Snowball algorithm)
# wordfreq's "small" lists hold every word from zipf 3 (once in a million words) up, enough for both cuts
# above, at a fraction of the memory of its large lists: a server answering in ten languages held ~200 MB
# more with those, one list per language asked in (docs/figures.md, session 12).
WORD_LIST = "small"


_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+")   # names the texts could spell: Latin script


@lru_cache(maxsize=None)
def _stemmer(language: str):
    import snowballstemmer

    return snowballstemmer.stemmer(CAPITALISED_NOUNS[language][1])


@lru_cache(maxsize=None)
def _common_stems(language: str) -> frozenset[str]:
    """The stems of the language's ordinary words (wordfreq lists them most frequent first, so the cut is
    found by bisection): about 39,000 German words, built once, ~2 s."""
    from wordfreq import top_n_list, zipf_frequency

    zipf = CAPITALISED_NOUNS[language][0]
    words = top_n_list(language, 200_000, wordlist=WORD_LIST)
    low, high = 0, len(words)
    while low < high:
        middle = (low + high) // 2
        if zipf_frequency(words[middle], language, wordlist=WORD_LIST) >= zipf:
            low = middle + 1
        else:
            high = middle
    return frozenset(_stemmer(language).stemWords(words[:low]))


def warm_word_lists() -> None:
    """Build the common stems now (a server does it in the background at start), not on the first question
    in that language."""
    for language in CAPITALISED_NOUNS:
        _common_stems(language)


@lru_cache(maxsize=65536)
def _common_word(word: str, language: str) -> bool:
    """An ordinary word of `language`, or an inflection of one: the genitive 'Austauschs' is rarer than the
    name 'Sorbonne', but its stem is the common 'Austausch''s."""
    try:
        from wordfreq import available_languages, zipf_frequency
    except ImportError:   # without wordfreq every unknown capitalised word counts as a name
        return False
    if language not in available_languages() or language in ("zh", "ja", "ko", "th"):
        language = "en"   # a Latin-script word in a Chinese question: is it an English word?
    if language not in CAPITALISED_NOUNS:
        return zipf_frequency(word, language, wordlist=WORD_LIST) >= COMMON_WORD_ZIPF
    return (zipf_frequency(word, language, wordlist=WORD_LIST) >= CAPITALISED_NOUNS[language][0]
            or _stemmer(language).stemWord(word.lower()) in _common_stems(language))


def named_institutions(question: str, institutions: dict[str, re.Pattern]) -> set[str]:
    """The institutions a question names, by the names sources.json gives them (Index.institutions):
    'Erasmus at Amiens?' -> {'UPJV'}."""
    return {name for name, pattern in institutions.items() if pattern.search(question)}


@dataclass
class Signals:
    """Everything the ranking and the confidence read about one question against every passage."""

    names: list[str]                 # feature names, columns of `features`
    features: np.ndarray             # (n_chunks, n_features)
    dense: np.ndarray                # (n_chunks,) mean cosine over models, chunk and best sentence
    per_model: dict                  # model -> {"chunk": (n,), "sentence": (n,), "sentence_all": (n_sentences,)}
    lexical_raw: np.ndarray          # (n_chunks,) BM25
    sentence_sims: np.ndarray        # (n_sentences,) the combined vector's cosine with every sentence
    dense_columns: int = 0           # how many first columns of `features` are the models' (see `signals`' `same_vector`)


class Retriever:
    # Signal groups, each a set of feature columns that an ablation can leave out.
    GROUPS = ("chunk", "sentence", "bm25", "routing", "kind", "align")

    def __init__(self, index: Index, options: RetrievalOptions | None = None, lexicon=None) -> None:
        """`lexicon`: the induced lexicon (lexicon.py), whose word vectors align a question with each passage;
        without one (no word encoder) the ranking goes without that signal."""
        import bm25s

        self.index = index
        self.options = options or RetrievalOptions()
        self.lexicon = lexicon
        self.models = index.models   # [(name, first column, last column)] of the stored vectors
        self._bm25 = bm25s.BM25()
        self._bm25.index([tokenize(c.embedding_text()) for c in index.chunks], show_progress=False)
        self._institutions = np.array([c.institution for c in index.chunks])
        self.chunk_tokens = [frozenset(tokenize(c.embedding_text())) for c in index.chunks]
        # Each sentence's words, once: the answer compares them with the question's on every answer.
        self.sentence_tokens = [frozenset(tokenize(sentence)) for sentence in index.sentences]
        self._words = [set(_NAME.findall(fold(c.embedding_text()))) for c in index.chunks]
        self._passages_using = Counter(word for words in self._words for word in words)
        self._numbers = {n for c in index.chunks for n in re.findall(r"\d+", c.embedding_text())}
        # Which passages hold an amount, an address, a date: what "how much / which e-mail / when" asks for.
        index.sentence_hubness   # on load, not on the first question
        self._holds = {kind: np.array([bool(pattern.search(c.text)) for c in index.chunks], dtype=np.float32)
                       for kind, (_, pattern) in ANSWER_TYPES.items()}

    def unknown_names(self, question: str, language: str = "en") -> list[str]:
        """Names the texts never use: what the question is about is something they do not mention.
        A name is a capitalised word past a sentence's first that is not a common word of the question's
        language (wordfreq: 'Universidade', 'América' in Portuguese are words, 'Sorbonne' a name; German
        capitalises every noun, so there a word must be rarer still). 'Tuition fees at the Sorbonne?' -> ['Sorbonne']"""
        unknown = []
        for sentence in re.split(r"[.!?¿¡]\s+", question):
            words = _NAME.findall(sentence)
            unknown += [w for w in words[1:] if w[0].isupper() and len(w) >= 3 and _LATIN_WORD.fullmatch(w)
                        and fold(w) not in self._passages_using and not _common_word(w, language)]
        return unknown

    def rare_names(self, question: str, hit: "Hit") -> list[str]:
        """Capitalised words of the question that at most RARE_NAME_PASSAGES passages use, `hit` among them:
        the passage is about exactly what is asked ('What does PAEH stand for?' -> ['paeh'] for the
        disability page), however little the embedding makes of an acronym it has never seen."""
        names = {fold(w) for w in _NAME.findall(question) if w[0].isupper() and len(w) >= 3}
        return sorted(n for n in names if 0 < self._passages_using[n] <= RARE_NAME_PASSAGES and n in self._words[hit.position])

    def unknown_years(self, question: str) -> list[str]:
        """Years the question names that the texts never mention: 'Parcoursup deadline in 2027?' -> ['2027']."""
        return [y for y in YEAR.findall(question) if y not in self._numbers]

    def signals(self, question: str, query_vector: np.ndarray, options: RetrievalOptions | None = None,
                extra: tuple[str, ...] = (), kinds: frozenset[str] | None = None,
                same_vector: Signals | None = None, unread: Borrowing | None = None) -> Signals:
        """Every passage's evidence for `question` (whose embedding is `query_vector`), on comparable scales:
        each model's cosines as z-scores and as gaps to the best passage of this question (a model's spread
        of cosines is its own: e5's sit in a narrow band, USE's wide), BM25 relative to the best passage.
        `extra`: corpus words the lexical side also searches (the induced lexicon's); `kinds`: the kind of
        fact asked (asked_kinds), by default read from `question`; `same_vector`: the signals of another
        reading of the same vector with the same dense groups, whose models' cosines are reused."""
        options = options or self.options
        index = self.index
        n = len(index.chunks)
        columns, names = [], []
        per_model = {}
        dense = np.zeros(n, dtype=np.float32)
        if same_vector is not None:
            per_model, dense = same_vector.per_model, same_vector.dense
            columns.append(same_vector.features[:, :same_vector.dense_columns])
            names += same_vector.names[:same_vector.dense_columns]
        for name, first, last in ([] if same_vector is not None else self.models):
            scale = len(self.models)   # combined vectors are scaled by 1/sqrt(m) on both sides
            q = query_vector[first:last]
            per_model[name] = {"chunk": (index.chunk_vectors[:, first:last] @ q) * scale,
                               "sentence_all": (index.sentence_vectors[:, first:last] @ q) * scale}
        if same_vector is None and unread is not None:
            for key in ("chunk", "sentence_all"):
                for name, values in unread.apply({m: parts[key] for m, parts in per_model.items()}, key).items():
                    per_model[name][key] = values
        for name, first, last in ([] if same_vector is not None else self.models):
            chunk, sentence_all = per_model[name]["chunk"], per_model[name]["sentence_all"]
            sentence = np.full(n, -1.0, dtype=np.float32)
            np.maximum.at(sentence, index.sentence_chunk, sentence_all)
            per_model[name]["sentence"] = sentence
            dense += (chunk + sentence) / (2 * len(self.models))
            for group, values in (("chunk", chunk), ("sentence", sentence)):
                if group in options.drop:
                    continue
                columns += [_zscore(values), values - values.max()]
                names += [f"{name}.{group}_z", f"{name}.{group}_gap"]
        dense_columns = len(names)
        tokens = expand_query(question, extra) if options.glossary else tuple(tokenize(question)) + extra
        raw = self._bm25.get_scores(list(tokens)).astype(np.float32) if tokens else np.zeros(n, dtype=np.float32)
        if "bm25" not in options.drop:
            columns += [raw / raw.max() if raw.max() > 0 else raw, np.log1p(raw)]
            names += ["bm25.relative", "bm25.log"]
        if "routing" not in options.drop:
            named = named_institutions(question, index.institutions)
            match = np.zeros(n, dtype=np.float32)
            if len(named) == 1:
                match = np.where(self._institutions == next(iter(named)), 1.0, -1.0).astype(np.float32)
            columns.append(match)
            names.append("routing.institution")
        if "kind" not in options.drop:
            holds = np.zeros(n, dtype=np.float32)
            for kind in (answer_types(question) if kinds is None else kinds):
                holds += self._holds[kind]
            columns.append(holds)
            names.append("kind.holds")
        if "align" not in options.drop and self.lexicon is not None:
            columns += self._alignment(question, n)
            names += ["align.cover", "align.cover_gap", "align.mean_gap"]
        features = np.column_stack(columns).astype(np.float32) if columns else np.zeros((n, 0), dtype=np.float32)
        # The combined vector's cosine is the mean of the models' (embedding.CombinedEmbedder): no second product.
        sentence_sims = sum(parts["sentence_all"] for parts in per_model.values()) / len(per_model)
        return Signals(names=names, features=features, dense=dense, per_model=per_model, lexical_raw=raw,
                       sentence_sims=sentence_sims, dense_columns=dense_columns)

    def retrieve(self, question: str, query_vector: np.ndarray, top_k: int,
                 options: RetrievalOptions | None = None, ranker=None,
                 extra: tuple[str, ...] = (), kinds: frozenset[str] | None = None,
                 same_vector: Signals | None = None, unread: Borrowing | None = None) -> tuple[list[Hit], Signals]:
        """The `top_k` best chunks for `question`, whose embedding is `query_vector` (unit, 1-D), ranked by
        the fitted ranker (or, with none, by the mean cosine), and the signals they were ranked on."""
        signals = self.signals(question, query_vector, options, extra, kinds, same_vector, unread)
        scores = ranker.decision(signals.features, signals.names) if ranker is not None else signals.dense.astype(np.float64)
        order = np.argsort(-scores, kind="stable")[:top_k]
        raw = signals.lexical_raw
        hits = []
        for position in order:
            own = self.index.chunk_sentences[position]
            best = int(own[np.argmax(signals.sentence_sims[own])]) if own.size else -1
            hits.append(Hit(chunk=self.index.chunks[position], position=int(position), score=float(scores[position]),
                            dense=float(signals.dense[position]), lexical_raw=float(raw[position]), sentence=best))
        return hits, signals


    def _alignment(self, question: str, n: int) -> list[np.ndarray]:
        """How much of the question each passage speaks of, word by word in any language (lexicon.alignment):
        the share of its content words with a close word in the passage (as close as the lexicon reads a
        word as another, lexicon.MIN_COSINE), that share less the best passage's, and the words' mean
        closeness less the best passage's."""
        from .lexicon import MIN_COSINE

        best = self.lexicon.alignment(question)
        if best is None:
            return [np.zeros(n, dtype=np.float32)] * 3
        cover = (best >= MIN_COSINE).mean(axis=0)
        mean = best.mean(axis=0)
        return [cover, cover - cover.max(), mean - mean.max()]


@dataclass(frozen=True)
class Borrowing:
    """For a question in a language one of the embedder's models never learnt ('vi': USE, trained on 16): that
    model's cosines are noise, so the cosines of a model that reads it stand in for them, put on the unread
    model's scale: the mean and spread its cosines have on a question it reads (`scales`, "model|kind" ->
    (mean, spread), fitted on the training questions; without them, this question's own). The fitted models
    then weigh every model's columns as they learnt them."""

    readers: dict[str, str]                       # unread model -> a model that reads the language
    scales: dict[str, tuple[float, float]] = field(default_factory=dict)

    def apply(self, values: dict[str, np.ndarray], kind: str) -> dict[str, np.ndarray]:
        """`values`: each model's cosines of one kind ("chunk", "sentence_all", "context") for this question."""
        out = dict(values)
        for model, reader in self.readers.items():
            own = values[model]
            mean, spread = self.scales.get(f"{model}|{kind}") or (float(own.mean()), float(own.std()))
            out[model] = (mean + spread * _zscore(values[reader])).astype(own.dtype)
        return out


def _zscore(values: np.ndarray) -> np.ndarray:
    """How far each passage stands above this question's typical passage, in this question's spread."""
    spread = float(values.std())
    return ((values - values.mean()) / spread if spread > 1e-6 else values - values.mean()).astype(np.float32)
