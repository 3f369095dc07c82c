"""Stage 5: a question to ranked passages (hits).

The ranking adds up, for every chunk:
- dense similarity: the cosine of the question with the chunk (title and heading included) and with
  the chunk's best sentence, averaged (sentence-level matching: a short question matches one line
  of a long passage better than the whole passage);
- lexical evidence: BM25 (bm25s) over accent-folded words, scaled to [0, 1] and weighted, so that names,
  acronyms and addresses (EUNICE, PAEH, Mermoz, erasmus@uphf.fr) pull their passages up even when the
  multilingual embedding blurs them;
- routing: a bonus for passages of the institution the question names (UPJV, Lille, UPHF).
Each component's effect on the evaluation set is in the README's table and in `rag eval --report`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

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
_TOKEN = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|[a-z0-9]+")
INSTITUTION_NAMES = {
    "UPJV": re.compile(r"\b(upjv|picardie|jules verne|amiens)\b", re.IGNORECASE),
    "Université de Lille": re.compile(r"\b(lille|ulille)\b", re.IGNORECASE),
    "UPHF": re.compile(r"\b(uphf|valenciennes|polytechnique hauts|insa hdf|insa hauts)", re.IGNORECASE),
}


@dataclass(frozen=True)
class RetrievalOptions:
    """The switches the evaluation turns off one at a time to measure each component."""

    dense_chunks: bool = True
    sentences: bool = True
    lexical: bool = True
    routing: bool = True
    lexical_weight: float = 0.25   # chosen on the dev split, see README "Retrieval components"
    routing_bonus: float = 0.1


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    position: int          # row of the chunk in the index
    score: float           # the ranking score
    dense: float           # cosine part of the score: what the abstention threshold looks at
    lexical: float         # BM25 scaled to [0, 1]
    sentence: int          # index (into Index.sentences) of the chunk's best-matching sentence
    components: dict = field(default_factory=dict, compare=False)


def fold(text: str) -> str:
    """Lower case without accents: 'Étudiant Été' -> 'etudiant ete'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokenize(text: str) -> list[str]:
    """'Contact : erasmus@uphf.fr, les Bourses' -> ['contact', 'erasmus@uphf.fr', 'erasmus', 'uphf', 'fr', 'bourse']"""
    tokens = []
    for token in _TOKEN.findall(fold(text)):
        if "@" in token:
            tokens.append(token)
            tokens.extend(t for t in re.findall(r"[a-z0-9]+", token) if t not in STOPWORDS)
        elif token not in STOPWORDS:
            tokens.append(token[:-1] if len(token) > 4 and token.endswith("s") else token)
    return tokens


def named_institutions(question: str) -> set[str]:
    return {name for name, pattern in INSTITUTION_NAMES.items() if pattern.search(question)}


class Retriever:
    def __init__(self, index: Index, options: RetrievalOptions | None = None) -> None:
        import bm25s

        self.index = index
        self.options = options or RetrievalOptions()
        self._bm25 = bm25s.BM25()
        self._bm25.index([tokenize(c.embedding_text()) for c in index.chunks], show_progress=False)
        self._institutions = np.array([c.institution for c in index.chunks])

    def retrieve(self, question: str, query_vector: np.ndarray, top_k: int,
                 options: RetrievalOptions | None = None) -> list[Hit]:
        """The `top_k` best chunks for `question`, whose embedding is `query_vector` (unit, 1-D)."""
        options = options or self.options
        index = self.index
        n = len(index.chunks)
        chunk_sims = index.chunk_vectors @ query_vector
        sentence_sims = index.sentence_vectors @ query_vector
        best_sentence_sim = np.full(n, -1.0, dtype=np.float32)
        np.maximum.at(best_sentence_sim, index.sentence_chunk, sentence_sims)
        if options.dense_chunks and options.sentences:
            dense = (chunk_sims + best_sentence_sim) / 2
        elif options.sentences:
            dense = best_sentence_sim
        else:
            dense = chunk_sims
        lexical = np.zeros(n, dtype=np.float32)
        if options.lexical:
            tokens = tokenize(question)
            if tokens:
                raw = self._bm25.get_scores(tokens)
                if raw.max() > 0:
                    lexical = (raw / raw.max()).astype(np.float32)
        routing = np.zeros(n, dtype=np.float32)
        if options.routing:
            named = named_institutions(question)
            if len(named) == 1:
                routing[self._institutions == next(iter(named))] = options.routing_bonus
        scores = dense + options.lexical_weight * lexical + routing
        order = np.argsort(-scores, kind="stable")[:top_k]
        hits = []
        for position in order:
            own = np.flatnonzero(index.sentence_chunk == position)
            best = int(own[np.argmax(sentence_sims[own])]) if own.size else -1
            hits.append(Hit(chunk=index.chunks[position], position=int(position), score=float(scores[position]),
                            dense=float(dense[position]), lexical=float(lexical[position]), sentence=best,
                            components={"chunk": float(chunk_sims[position]),
                                        "sentence": float(best_sentence_sim[position]),
                                        "routing": float(routing[position])}))
        return hits
