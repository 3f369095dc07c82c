"""The fitted parts of the pipeline: a linear model over named signals (standardised, then weighted),
applied with numpy at answer time and fitted with scikit-learn by `rag eval --fit`.

Three are fitted per embedder and stored in `src/rag/models/<embedder>.json` with the abstention threshold:
- the ranker: which passage answers (pairs of a training question and every passage; a passage holding a
  needle of the question is a positive);
- the quote ranker: the same with the question aligned word by word with each passage (retrieval/, "align"):
  it ranks the passages the answer quotes; the confidence reads the ranker's ranking, without it;
- the confidence: whether the texts answer the question at all (training questions, answerable or not);
- the sentence model: which sentence of the best passages holds the fact asked; the confidence reads its best
  score;
- the quote sentence model: the same, fitted on the quote ranker's passages, with each sentence also read
  after its page title and section ("context"): it picks the answer's first line;
- the follow-up model: whether a question depends on the previous one (conversation.py);
- the question-form model: whether a question, by its wording alone, reads as one that leans on an earlier
  turn ("and for a master?", "who do I write to about it?"): a logistic regression over the question's own
  vector, one of the follow-up model's signals;
- the small-talk model: whether a message, by its vector, is a pleasantry or a request with no subject ("thanks!",
  "entschuldigung, kurze frage", "すみません、ちょっといいですか") rather than a question: a logistic regression like
  the question-form model, fitted on the training split's messages and the pleasantries (conversation.py).
Weights come from the training split, the threshold from the dev split; test and blind are only reported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MODELS_DIR = Path(__file__).resolve().parent / "models"
MODEL_KEYS = ("ranker", "confidence", "sentence", "follow_up", "form", "quote_ranker", "quote_sentence",
              "small_talk")


@dataclass
class LinearModel:
    names: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def decision(self, features: np.ndarray, names: list[str]) -> np.ndarray:
        """Log-odds for each row of `features`, whose columns are `names`. A signal the model knows but the
        rows lack (an ablation) counts as its training mean, i.e. contributes nothing."""
        if names == self.names:   # every signal present, in order (the question-form model's 896 columns)
            return self.intercept + ((features - self.mean) / self.scale) @ self.coef
        columns = {name: i for i, name in enumerate(names)}
        total = np.full(features.shape[0], self.intercept, dtype=np.float64)
        for j, name in enumerate(self.names):
            if name in columns:
                total += self.coef[j] * (features[:, columns[name]] - self.mean[j]) / self.scale[j]
        return total

    def without(self, names: list[str]) -> "LinearModel":
        """The model with the signals `names` left out (each then contributes nothing, as in an ablation)."""
        left_out = set(names)
        keep = [i for i, n in enumerate(self.names) if n not in left_out]
        return LinearModel(names=[self.names[i] for i in keep], mean=self.mean[keep], scale=self.scale[keep],
                           coef=self.coef[keep], intercept=self.intercept)

    def probability(self, features: np.ndarray, names: list[str]) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.decision(features, names)))

    def to_dict(self) -> dict:
        return {"names": self.names, "mean": [round(float(v), 6) for v in self.mean],
                "scale": [round(float(v), 6) for v in self.scale], "coef": [round(float(v), 6) for v in self.coef],
                "intercept": round(float(self.intercept), 6)}

    @classmethod
    def from_dict(cls, data: dict) -> "LinearModel":
        return cls(names=list(data["names"]), mean=np.array(data["mean"], dtype=np.float64),
                   scale=np.array(data["scale"], dtype=np.float64), coef=np.array(data["coef"], dtype=np.float64),
                   intercept=float(data["intercept"]))


def fit_linear(features: np.ndarray, labels: np.ndarray, names: list[str], c: float = 1.0,
               balanced: bool = True, sample_weight: np.ndarray | None = None) -> LinearModel:
    """L2-regularised logistic regression on standardised signals (scikit-learn)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(features)
    scale = np.where(scaler.scale_ > 1e-9, scaler.scale_, 1.0)
    model = LogisticRegression(C=c, class_weight="balanced" if balanced else None, max_iter=2000)
    model.fit((features - scaler.mean_) / scale, labels, sample_weight=sample_weight)
    return LinearModel(names=list(names), mean=scaler.mean_.copy(), scale=scale, coef=model.coef_[0].copy(),
                       intercept=float(model.intercept_[0]))


def model_path(embedder: str) -> Path:
    return MODELS_DIR / (re.sub(r"[^A-Za-z0-9._+-]+", "_", embedder) + ".json")


@dataclass
class Fitted:
    ranker: LinearModel | None
    confidence: LinearModel | None
    threshold: float
    info: dict
    sentence: LinearModel | None = None
    follow_up: LinearModel | None = None
    form: LinearModel | None = None
    quote_ranker: LinearModel | None = None
    quote_sentence: LinearModel | None = None
    small_talk: LinearModel | None = None

    @classmethod
    def unfitted(cls, threshold: float = 0.5) -> "Fitted":
        """No fitted model: passages ranked by their mean cosine, confidence = the best one's cosine, and only a
        message nearly identical to a pleasantry is small talk."""
        return cls(ranker=None, confidence=None, threshold=threshold, info={"fitted": False, "small_talk_similarity": 0.9})

    @classmethod
    def load(cls, embedder: str, fallback: str = "e5-small") -> "Fitted":
        """The models fitted for `embedder`; a model nobody fitted for (any sentence-transformers model) gets
        the single-model fit of `fallback`, its signals renamed: its per-question z-scores and gaps, which are
        comparable across models. Raw cosine levels are left out (e5's sit in a narrow band near 0.85, another
        model's elsewhere, and would read as far out of range), and so is the question-form model, which reads
        e5's own vectors, and the small-talk model, for the same reason. `rag eval --fit` with that embedder fits
        its own."""
        path = model_path(embedder)
        rename = None
        if not path.exists():
            path, rename = model_path(fallback), (f"{fallback}.", f"{embedder}.")
        if not path.exists():
            return cls.unfitted()
        text = path.read_text(encoding="utf-8")
        if rename:
            text = text.replace(json.dumps(rename[0])[1:-1], json.dumps(rename[1])[1:-1])
        data = json.loads(text)
        def model(key):
            if not data.get(key):
                return None
            linear = LinearModel.from_dict(data[key])
            if rename:
                linear = linear.without([n for n in linear.names if n.startswith(rename[1]) and not n.endswith(("_z", "_gap"))])
            return linear

        return cls(ranker=model("ranker"), confidence=model("confidence"), sentence=model("sentence"),
                   follow_up=model("follow_up"), form=None if rename else model("form"),
                   quote_ranker=model("quote_ranker"), quote_sentence=model("quote_sentence"),
                   small_talk=None if rename else model("small_talk"), threshold=float(data["threshold"]),
                   info={k: v for k, v in data.items() if k not in MODEL_KEYS})

    def save(self, embedder: str) -> Path:
        path = model_path(embedder)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {**self.info, "embedder": embedder, "threshold": self.threshold,
                "ranker": self.ranker.to_dict() if self.ranker else None,
                "confidence": self.confidence.to_dict() if self.confidence else None,
                "sentence": self.sentence.to_dict() if self.sentence else None,
                "follow_up": self.follow_up.to_dict() if self.follow_up else None,
                "form": self.form.to_dict() if self.form else None,
                "quote_ranker": self.quote_ranker.to_dict() if self.quote_ranker else None,
                "quote_sentence": self.quote_sentence.to_dict() if self.quote_sentence else None,
                "small_talk": self.small_talk.to_dict() if self.small_talk else None}
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return path
