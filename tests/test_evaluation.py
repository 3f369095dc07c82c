import json

import pytest

from rag.errors import DatasetError
from rag.evaluation import Item, Result, choose_threshold, holds_needle, load_dataset, metrics, sweep


def result(answerable, confidence, rank=None, has=False, cited=0, cited_relevant=0):
    item = Item(id="x", question="q", lang="fr", answerable=answerable, needles=["n"] if answerable else [])
    return Result(item=item, confidence=confidence, rank=rank, relevant_ranks=[rank] if rank else [], relevant_total=1 if rank else 0,
                  answer_has_needle=has, cited_relevant=cited_relevant, cited=cited, language="fr", answer={}, timings={})


def test_needles_compare_after_normalisation():
    assert holds_needle("Montant : 1\u00a0700 étudiants", ["1 700"])
    assert holds_needle("l’UPHF", ["l'uphf"])
    assert holds_needle("ERASMUS@UPHF.FR", ["erasmus@uphf.fr"])
    assert not holds_needle("210 €", ["312"])


def test_a_needle_in_a_citation_but_not_the_answer_counts():
    m = metrics([result(True, 0.9, rank=2, has=True, cited=2, cited_relevant=1)], threshold=0.5)
    assert m["answer_accuracy"] == 1 and m["citation_precision"] == 0.5 and m["hit@1"] == 0 and m["hit@3"] == 1


def test_an_abstention_is_never_a_correct_answer_even_with_citations():
    m = metrics([result(True, 0.3, rank=1, has=True, cited=1, cited_relevant=1)], threshold=0.5)
    assert m["answer_accuracy"] == 0 and m["false_abstention_rate"] == 1


def test_unanswerable_questions_score_abstention():
    m = metrics([result(False, 0.3), result(False, 0.7)], threshold=0.5)
    assert m["abstention_accuracy"] == 0.5 and m["answer_accuracy"] is None


def test_threshold_choice_prefers_fewer_false_abstentions():
    results = [result(True, 0.6, rank=1, has=True), result(True, 0.4, rank=1, has=True), result(False, 0.45), result(False, 0.2)]
    chosen = choose_threshold(sweep(results), max_false_abstention=0.0)
    assert chosen["threshold"] <= 0.4 and chosen["false_abstention_rate"] == 0


def test_dataset_errors_name_the_line(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps({"question": "ok?", "answerable": True, "needles": ["x"]}) + "\n{broken\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="line 2"):
        load_dataset(path)
    path.write_text(json.dumps({"question": "q", "answerable": True, "needles": ["nowhere"]}) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="appears anywhere in the corpus"):
        load_dataset(path, corpus_text="some corpus text")
    path.write_text(json.dumps({"question": "q"}) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="missing field answerable"):
        load_dataset(path)


def test_the_project_dataset_is_well_formed():
    from rag.evaluation import DEFAULT_DATASET

    items = load_dataset(DEFAULT_DATASET)
    assert len(items) >= 100 and sum(not i.answerable for i in items) >= 20
    assert sum(i.lang != "fr" for i in items) / len(items) >= 0.45
    assert {i.split for i in items} == {"train", "dev", "test"}
    blind = load_dataset(DEFAULT_DATASET.with_name("blind_check.jsonl"))
    assert {i.split for i in blind} == {"blind"} and not {i.id for i in blind} & {i.id for i in items}
    conversations = [i for i in items + blind if i.history]
    assert len(conversations) >= 40 and {i.conversation for i in conversations} == {"follow_up", "new_topic", "small_talk"}
    for lang in ("es", "ar", "zh", "de", "it", "pt"):
        assert sum(i.lang == lang for i in items + blind) >= 10
    assert sum(not i.answerable and not i.small_talk for i in items + blind) >= 60


def test_report_is_written_with_metrics_and_baselines(small_assistant, tmp_path):
    from rag.evaluation import Item, run, summarise
    from rag.report import write_report

    items = [Item(id="a", question="montant bourse Mermoz", lang="fr", answerable=True, needles=["400€"], split="dev"),
             Item(id="b", question="weather tomorrow?", lang="en", answerable=False, needles=[], split="test")]
    results = run(small_assistant, items)
    write_report(tmp_path / "report", small_assistant, items, results, summarise(results, 0.2))
    data = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert "shipped pipeline" in data["baselines"]
    page = (tmp_path / "report" / "report.html").read_text()
    assert "data:image/png;base64," in page and "http" not in page.split("<body>")[1].split("Failed questions")[0]



def test_report_gives_the_checks_kept_out_of_the_splits_beside_them(small_assistant, tmp_path):
    from rag.evaluation import Item, run, summarise
    from rag.report import write_report

    items = [Item(id="a", question="montant bourse Mermoz", lang="fr", answerable=True, needles=["400€"], split="dev")]
    outside = {"questions <written> apart": [
        Item(id="o1", question="combien pour la bourse Mermoz ?", lang="fr", answerable=True, needles=["400€"], split=""),
        Item(id="o2", question="weather tomorrow?", lang="en", answerable=False, needles=[], split="")]}
    results = run(small_assistant, items)
    write_report(tmp_path / "report", small_assistant, items, results, summarise(results, 0.2), outside=outside)
    check = json.loads((tmp_path / "report" / "metrics.json").read_text())["outside_checks"]["questions <written> apart"]
    assert check["questions"] == 2 and 0.0 <= check["answer_accuracy"] <= 1.0 and "abstention_accuracy" in check
    page = (tmp_path / "report" / "report.html").read_text()
    assert "Checks kept out of the splits (1)" in page and "questions &lt;written&gt; apart" in page

def test_first_line_is_the_first_line_carrying_a_citation_marker():
    from rag.evaluation import first_cited_line

    assert first_cited_line("Le montant est de **400€** par mois. [1]\n\nAussi :\n- autre [2]") .endswith("[1]")
    assert first_cited_line("Les textes ne répondent pas.") == ""


def test_bold_marks_do_not_hide_a_needle():
    assert holds_needle("Le montant est de **400€** par mois.", ["400€ par mois"])


def test_the_project_evaluation_sets_have_no_weak_needles():
    from rag.evaluation import DEFAULT_DATASET, _corpus_text, weak_needles
    from rag.settings import Settings

    corpus = _corpus_text(Settings())
    items = load_dataset(DEFAULT_DATASET) + load_dataset(DEFAULT_DATASET.with_name("blind_check.jsonl"))
    assert weak_needles(items, corpus) == []


def test_a_conversation_line_labelled_small_talk_is_scored_as_small_talk(tmp_path):
    # not as an out-of-scope question the assistant failed to refuse
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"id": "c1", "question": "ok thx", "history": ["where is the CRL?"],
                                "conversation": "small_talk", "answerable": False, "needles": []}) + "\n")
    assert load_dataset(path)[0].small_talk
