"""The fitted models: how they are applied, where the threshold comes from, and what fitting refuses."""

import numpy as np
import pytest

from rag.errors import DatasetError
from rag.evaluation import Item
from rag.fitted import Fitted, LinearModel, fit_linear, model_path


def test_a_linear_model_weighs_named_signals_and_ignores_their_order():
    model = LinearModel(names=["a", "b"], mean=np.array([1.0, 0.0]), scale=np.array([2.0, 1.0]),
                        coef=np.array([1.0, -1.0]), intercept=0.5)
    rows = np.array([[3.0, 1.0]])
    assert model.decision(rows, ["a", "b"])[0] == pytest.approx(0.5 + 1.0 - 1.0)
    assert model.decision(rows[:, ::-1], ["b", "a"])[0] == pytest.approx(0.5)
    # a signal left out (an ablation) contributes nothing
    assert model.decision(np.array([[3.0]]), ["a"])[0] == pytest.approx(1.5)


def test_a_model_over_every_signal_in_order_gives_the_same_log_odds_by_matrix_product():
    rng = np.random.default_rng(1)
    names = [f"vector.{i}" for i in range(6)]
    model = LinearModel(names=names, mean=rng.normal(size=6), scale=rng.uniform(0.5, 2, size=6),
                        coef=rng.normal(size=6), intercept=-0.3)
    rows = rng.normal(size=(3, 6))
    by_name = model.decision(rows[:, ::-1], names[::-1])     # per-name path
    assert model.decision(rows, names) == pytest.approx(by_name)


def test_fitting_learns_which_signal_separates_the_classes():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    y = (x[:, 0] > 0).astype(int)
    model = fit_linear(x, y, ["useful", "noise"])
    assert abs(model.coef[0]) > 5 * abs(model.coef[1])
    assert model.probability(np.array([[2.0, 0.0]]), ["useful", "noise"])[0] > 0.9


def test_the_shipped_default_has_its_models_and_threshold_in_one_file():
    from rag.settings import DEFAULT_EMBEDDER

    fitted = Fitted.load(DEFAULT_EMBEDDER)
    assert model_path(DEFAULT_EMBEDDER).exists()
    assert fitted.ranker and fitted.confidence and fitted.sentence and fitted.follow_up and fitted.form
    assert 0 < fitted.threshold < 1 and fitted.info["threshold_on"] == "dev" and fitted.info["fitted_on"] == "train"


def test_the_threshold_has_one_source_unless_the_environment_overrides_it(small_assistant):
    import dataclasses

    small_assistant.settings = dataclasses.replace(small_assistant.settings, abstain_threshold=None)
    small_assistant.fitted.threshold = 0.37
    assert small_assistant.threshold == 0.37
    small_assistant.settings = small_assistant.settings.replace(abstain_threshold=0.8)
    assert small_assistant.threshold == 0.8


def test_a_model_nobody_fitted_for_gets_the_e5_fit_with_its_own_signal_names():
    fitted = Fitted.load("some/other-model")
    assert fitted.ranker is not None
    assert all(not n.startswith("e5-small.") for n in fitted.ranker.names)
    assert any(n.startswith("some/other-model.") for n in fitted.ranker.names)
    # the question-form model reads e5's own vectors, and e5's raw cosine levels are not another model's:
    # both are left out, the per-question z-scores and gaps kept
    assert fitted.form is None
    assert not any(n.endswith(("best_chunk", "nearest_passages")) for n in fitted.confidence.names)
    assert any(n.startswith("some/other-model.") and n.endswith("_z") for n in fitted.ranker.names)


def test_fitting_refuses_a_dataset_without_train_and_dev_splits(small_assistant):
    from rag.fitting import fit

    items = [Item(id="a", question="montant bourse Mermoz", lang="fr", answerable=True, needles=["400€"], split="test")]
    with pytest.raises(DatasetError, match="train split and of a dev split"):
        fit(small_assistant, items)


def test_fitting_runs_end_to_end_and_the_follow_up_model_reads_the_question_form(small_assistant):
    """`rag eval --fit` on a small set: every model fitted (the question-form one out-of-fold), a threshold
    chosen on dev, and the follow-up model weighing the form model's signal."""
    from rag.fitting import fit

    fitted = fit(small_assistant, _small_set())
    assert fitted.ranker and fitted.sentence and fitted.confidence and fitted.form and fitted.follow_up
    assert "form.dependent" in fitted.follow_up.names
    assert 0 < fitted.threshold < 1
    assert small_assistant.question_form(small_assistant.embedder.encode_queries(["et pour"])[0]) is not None


def _small_set() -> list[Item]:
    answerable = [("montant bourse Erasmus par mois", "210€"), ("bourse Mermoz montant maximum", "400€"),
                  ("mail mobilité entrante", "international_in@uphf.fr"), ("accords Erasmus contact", "erasmus@uphf.fr"),
                  ("demande de PAEH handicap", "Relais Handicap")]
    items = []
    for split in ("train", "dev"):
        for n, (question, needle) in enumerate(answerable):
            items.append(Item(id=f"{split}{n}", question=question, lang="fr", answerable=True, needles=[needle], split=split))
            items.append(Item(id=f"{split}f{n}", question=f"et pour {needle.split('@')[0][:4]} alors {n}", lang="fr",
                              answerable=True, needles=[needle], split=split, history=[question],
                              conversation="follow_up"))
            items.append(Item(id=f"{split}o{n}", question=f"prix du bus numéro {n} à Valenciennes", lang="fr",
                              answerable=False, needles=[], split=split, history=[question], conversation="new_topic"))
    return items


def test_fitting_one_model_keeps_every_other_as_it_was(small_assistant):
    """`rag eval --fit quote_sentence`: only the model that picks the first line learns; the ranker and the
    confidence the threshold was chosen for stay the same, and the refit is recorded beside the models."""
    from rag.fitting import fit

    before = small_assistant.fitted
    fitted = fit(small_assistant, _small_set(), only=frozenset({"quote_sentence"}))
    for key in ("ranker", "quote_ranker", "sentence", "confidence", "form", "follow_up"):
        old, new = getattr(before, key), getattr(fitted, key)
        assert (old is None and new is None) or (old.to_dict() == new.to_dict()), key
    assert fitted.quote_sentence is not None
    assert before.quote_sentence is None or fitted.quote_sentence.to_dict() != before.quote_sentence.to_dict()
    assert fitted.info["refitted"][-1] == {"models": ["quote_sentence"], "train_questions": 15}


def test_the_confidence_is_fitted_on_the_evidence_it_reads_when_answering(small_assistant, monkeypatch):
    """A question's confidence signals when fitting are those it gets when asked: the passages ranked without the
    word alignment and their lines scored by the sentence model, not the quoted ones (the quote ranker's)."""
    import rag.fitting as fitting

    rows = {}
    fit_linear_ = fitting.fit_linear

    def keep(features, labels, names, **kwargs):
        if "lead.best" in names:
            rows["confidence"] = (features, names)
        return fit_linear_(features, labels, names, **kwargs)

    monkeypatch.setattr(fitting, "fit_linear", keep)
    items = _small_set()
    # with a quote sentence model, the lines quoted are scored apart from those the confidence reads
    fitted = fitting.fit(small_assistant, items, only=frozenset({"quote_sentence", "confidence"}))
    features, names = rows["confidence"]
    train = [i for i in items if i.split == "train" and not i.small_talk]
    fitted_on = fitted.confidence.probability(features, names)
    checked = []
    for item, expected in zip(train, fitted_on):
        answer = small_assistant.ask(item.question, history=item.history if item.conversation == "follow_up" else None)
        if answer.confidence > 0 and answer.follow_up == (item.conversation == "follow_up"):
            checked.append(item.question)
            assert answer.confidence == pytest.approx(expected), item.question
    assert len(checked) >= 5   # questions answered as their label reads them, and not refused on a missing fact


def test_the_small_talk_model_learns_pleasantries_from_the_training_messages(small_assistant):
    """`rag eval --fit small_talk`: a logistic regression over the message's vector, on the training split's
    messages and the pleasantries; once fitted, a pleasantry gets a short reply and a question its passages."""
    from rag.fitting import fit

    chat = [Item(id=f"st{n}", question=text, lang="fr", answerable=False, needles=[], split="train",
                 history=["montant bourse Erasmus par mois"], conversation="small_talk", small_talk=True)
            for n, text in enumerate(["merci beaucoup", "ok merci", "super merci", "merci, au revoir", "génial merci"])]
    fitted = fit(small_assistant, _small_set() + chat, only=frozenset({"small_talk"}))
    assert fitted.small_talk is not None and len(fitted.small_talk.names) == small_assistant.embedder.dimension
    assert fitted.info["small_talk_log_odds_cut"] >= 0
    assert small_assistant.fitted is fitted
    thanks = small_assistant.ask("merci beaucoup", history=["montant bourse Erasmus par mois"])
    assert thanks.small_talk and thanks.citations == []
    question = small_assistant.ask("montant bourse Erasmus par mois")
    assert not question.small_talk and not question.abstained


def test_fitting_a_model_that_does_not_exist_names_the_ones_that_do(small_assistant):
    from rag.errors import InvalidSettingError
    from rag.fitting import fit

    with pytest.raises(InvalidSettingError, match="no model called first_line .*quote_sentence"):
        fit(small_assistant, _small_set(), only=frozenset({"first_line"}))
