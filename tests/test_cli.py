import io
import json
import re
import sys

import pytest

from rag.cli import main
from rag.index import build_index

from conftest import KeywordEncoder


@pytest.fixture
def cli_env(small_settings, monkeypatch):
    """The CLI reading the small corpus and its keyword index through the environment, as a user would."""
    build_index(small_settings, embedder=KeywordEncoder())
    monkeypatch.setenv("RAG_CORPUS_DIR", str(small_settings.corpus_dir))
    monkeypatch.setenv("RAG_INDEX_DIR", str(small_settings.index_dir))
    monkeypatch.setenv("RAG_EMBEDDER", "keyword-test")
    monkeypatch.setattr("rag.assistant.make_embedder", lambda settings: KeywordEncoder())
    return small_settings


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_ask_prints_an_answer_with_sources(cli_env, capsys):
    status, out, err = run(capsys, "ask", "montant bourse Mermoz")
    assert status == 0 and "[1]" in out and "Sources" in out


def test_ask_json_prints_one_answer_object(cli_env, capsys):
    status, out, _ = run(capsys, "ask", "montant bourse Mermoz", "--json")
    data = json.loads(out)
    assert status == 0 and data["citations"] and data["abstained"] is False


def test_unanswerable_is_an_answer_not_an_error(cli_env, capsys):
    status, out, _ = run(capsys, "ask", "weather tomorrow?", "--json")
    assert status == 0 and json.loads(out)["abstained"] is True


def test_batch_keeps_order_and_ids(cli_env, capsys, monkeypatch):
    lines = "\n".join(json.dumps({"id": f"b{i}", "question": q}) for i, q in
                      enumerate(["montant bourse Mermoz", "weather?", "PAEH handicap"]))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(lines.encode())))
    status, out, _ = run(capsys, "ask", "--json", "--batch", "-")
    records = [json.loads(line) for line in out.splitlines()]
    assert status == 0 and [r["id"] for r in records] == ["b0", "b1", "b2"]


@pytest.mark.parametrize("argv, words", [
    (["ask", ""], "empty"),
    (["ask", "   "], "empty"),
    (["ask", "x" * 100_000], "limit"),
    (["ask", "bourse", "--top-k", "0"], "greater than 0"),
    (["ask", "bourse", "--top-k", "-3"], "greater than 0"),
    (["ask", "bourse\udcff"], "UTF-8"),
    (["ask", "--json", "--batch", "/nonexistent/file.jsonl"], "cannot read"),
    (["eval", "--fit", "first_line"], "quote_sentence"),   # names the models there are, before any fitting
])
def test_user_errors_are_one_line_and_exit_2(cli_env, capsys, argv, words):
    status, out, err = run(capsys, *argv)
    assert status == 2 and words in err and err.count("\n") == 1 and "Traceback" not in err


def test_missing_index_is_one_line_and_exit_2(cli_env, capsys, tmp_path):
    status, _, err = run(capsys, "ask", "bourse", "--index", str(tmp_path / "nowhere"))
    assert status == 2 and "rag index" in err and err.count("\n") == 1


def test_mismatched_index_is_one_line_and_exit_2(cli_env, capsys):
    status, _, err = run(capsys, "ask", "bourse", "--embedder", "use-multilingual-v3")
    assert status == 2 and "keyword-test" in err and err.count("\n") == 1


def test_unreadable_corpus_for_index_is_one_line_and_exit_2(cli_env, capsys):
    (cli_env.corpus_dir / "lille.txt").write_bytes(b"\xff\xfe\xfa")
    status, _, err = run(capsys, "index")
    assert status == 2 and "UTF-8" in err


def test_rag_index_out_on_a_folder_of_files_exits_2_and_changes_nothing(tmp_path):
    """The installed command, as a user runs it: `rag index --out ~/Documents` must not delete anything."""
    import shutil
    import subprocess

    rag = shutil.which("rag", path=str(__import__("pathlib").Path(sys.executable).parent))
    folder = tmp_path / "Documents"
    folder.mkdir()
    (folder / "letter.txt").write_text("keep", encoding="utf-8")
    done = subprocess.run([rag, "index", "--out", str(folder)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "holds no index" in done.stderr
    assert [p.name for p in folder.iterdir()] == ["letter.txt"] and (folder / "letter.txt").read_text() == "keep"


def test_batch_lines_take_a_conversation_history_and_bad_lines_lose_nothing(cli_env, capsys, monkeypatch):
    lines = [json.dumps({"id": "a", "question": "et le montant pour Mermoz ?",
                         "history": [{"role": "user", "content": "Quel est le montant de la bourse Erasmus ?"},
                                     {"role": "assistant", "content": "…"}]}),
             '{"id": "b", "question": "bourse\\ud800 Mermoz"}',            # a lone surrogate
             "not json at all",
             json.dumps({"id": "c", "question": "montant\u2028bourse Mermoz"}),   # U+2028 inside the text
             json.dumps({"id": "d", "question": "PAEH handicap", "history": 5})]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("\n".join(lines).encode())))
    status, out, _ = run(capsys, "ask", "--json", "--batch", "-")
    records = [json.loads(line) for line in out.splitlines()]
    assert status == 0 and len(records) == 5
    assert any("Mermoz" in c["text"] for c in records[0]["citations"])
    assert records[1]["id"] == "b" and "UTF-8" in records[1]["error"]
    assert "line 3" in records[2]["error"]
    assert records[3]["id"] == "c" and "error" not in records[3]
    assert records[4]["id"] == "d" and "history" in records[4]["error"]


@pytest.mark.parametrize("argv, words", [
    (["load", "--duration", "inf"], "between 0 and"),
    (["load", "--duration", "nan"], "between 0 and"),
    (["load", "--duration", "-1"], "between 0 and"),
    (["load", "--duration", "10", "--swap-at", "10"], "--swap-at must be"),
])
def test_load_refuses_an_unbounded_duration(cli_env, capsys, argv, words):
    status, _, err = run(capsys, *argv)
    assert status == 2 and words in err and len(err.strip().splitlines()) == 1


def test_eval_report_naming_a_file_is_one_line_and_exit_2(cli_env, capsys, tmp_path):
    target = tmp_path / "report.html"
    target.write_text("mine", encoding="utf-8")
    status, _, err = run(capsys, "eval", "--report", str(target))
    assert status == 2 and "is a file" in err and target.read_text(encoding="utf-8") == "mine"


def test_bench_build_times_a_first_build_and_a_rebuild_without_touching_the_index(cli_env, capsys, monkeypatch, tmp_path):
    monkeypatch.setattr("rag.index.make_embedder", lambda settings: KeywordEncoder())
    dataset = tmp_path / "two.jsonl"
    dataset.write_text("\n".join(json.dumps({"id": f"b{i}", "question": q, "lang": "fr", "answerable": True,
                                             "needles": ["x"], "source": ""}) for i, q in enumerate(["bourse", "master"])),
                       encoding="utf-8")
    index = cli_env.index_dir
    before = {p.relative_to(index): p.stat().st_mtime_ns for p in index.rglob("*")}
    status, out, _ = run(capsys, "bench", "--build", "--repeat", "1", "--dataset", str(dataset))
    assert status == 0
    assert "warm ask p50" in out
    assert re.search(r"first index build \(no vector cached\): [\d.]+ s; the unchanged corpus rebuilt: [\d.]+ s", out), out
    # the benchmark built in a folder of its own: the index answering, and its vector cache, are as they were
    assert {p.relative_to(index): p.stat().st_mtime_ns for p in index.rglob("*")} == before
