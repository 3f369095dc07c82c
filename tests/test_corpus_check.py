"""`rag corpus check`: one line per finding, a summary, exit 2 on errors and 0 with warnings only."""

import json
import shutil
from pathlib import Path

import pytest

from rag.cli import main

from test_corpus import FIXTURES, PROJECT_CORPUS, add_source


def check(corpus: Path, capsys) -> tuple[int, list[str]]:
    status = main(["corpus", "check", "--corpus", str(corpus)])
    return status, capsys.readouterr().out.strip().split("\n")


def edit_sources(corpus: Path, change) -> None:
    path = corpus / "sources.json"
    sources = json.loads(path.read_text(encoding="utf-8"))
    change(sources)
    path.write_text(json.dumps(sources, ensure_ascii=False), encoding="utf-8")


def test_the_project_corpus_has_only_the_deliberate_repeats_as_warnings(capsys):
    status, lines = check(PROJECT_CORPUS, capsys)
    assert status == 0
    warnings = [line for line in lines if line.startswith("warning:")]
    assert not [line for line in lines if line.startswith("error:")]
    # The Bienvenue en France and EUNICE pages copy sections of the FAQ: reported, not refused.
    assert {line.split(":")[1].strip() for line in warnings} == {"uphf-bienvenue-en-france", "uphf-eunice"}
    assert all("nearly repeats uphf-faq" in line for line in warnings)
    assert lines[-1].startswith("5 sources in sources.json: 0 errors, 4 warnings")


def test_a_clean_corpus_passes_with_a_summary(small_settings, capsys):
    status, lines = check(small_settings.corpus_dir, capsys)
    assert status == 0 and lines[-1].startswith("5 sources in sources.json: 0 errors")


def test_an_unreadable_file_is_an_error(small_settings, capsys):
    (small_settings.corpus_dir / "lille.txt").write_bytes(b"caf\xe9 \xff\xfe")
    add_source(small_settings.corpus_dir, "guide.pdf", b"%PDF-1.4 not a PDF at all")
    status, lines = check(small_settings.corpus_dir, capsys)
    assert status == 2
    assert any(line.startswith("error: lille.txt: unreadable") and "not UTF-8" in line for line in lines)
    assert any(line.startswith("error: guide.pdf: unreadable") and "not a readable PDF" in line for line in lines)
    assert "2 errors" in lines[-1]


def test_a_file_without_metadata_is_an_error_and_other_files_a_warning(small_settings, capsys):
    shutil.copy(FIXTURES / "suaps-artois.html", small_settings.corpus_dir)
    (small_settings.corpus_dir / "notes.docx").write_bytes(b"PK")
    (small_settings.corpus_dir / "README.md").write_text("# How to add a document\n", encoding="utf-8")
    status, lines = check(small_settings.corpus_dir, capsys)
    assert status == 2
    assert any(line.startswith("error: suaps-artois.html: no entry in sources.json") for line in lines)
    assert any(line.startswith("warning: notes.docx: not a format the corpus reads") for line in lines)
    assert not any("README.md" in line for line in lines)   # the folder's own README is no document


def test_metadata_without_its_file_is_an_error(small_settings, capsys):
    (small_settings.corpus_dir / "upjv.txt").unlink()
    status, lines = check(small_settings.corpus_dir, capsys)
    assert status == 2
    assert "error: upjv.txt: listed in sources.json (id upjv) but there is no such file" in lines


@pytest.mark.parametrize("change, expected", [
    (lambda s: s[2].pop("checked_on"), "error: sources.json, source #3 (uphf-label): lacks checked_on"),
    (lambda s: [s[3].pop(k) for k in ("url", "institution")], "error: sources.json, source #4 (upjv): lacks institution, url"),
    (lambda s: s[3].update(checked_on="2026-13-45"), "error: sources.json, source #4 (upjv): checked_on:"),
    (lambda s: s[4].update(id="upjv"), "error: sources.json, source #5 (upjv): the id 'upjv' is used twice"),
])
def test_missing_or_invalid_fields_are_errors(small_settings, capsys, change, expected):
    edit_sources(small_settings.corpus_dir, change)
    status, lines = check(small_settings.corpus_dir, capsys)
    assert status == 2 and any(line.startswith(expected) for line in lines), lines


def test_an_expired_source_is_a_warning(small_settings, capsys):
    edit_sources(small_settings.corpus_dir, lambda s: s[3].update(valid_until="2025-06-30"))
    status, lines = check(small_settings.corpus_dir, capsys)
    assert status == 0
    assert any(line.startswith("warning: upjv: expired: valid until 2025-06-30") for line in lines)


def test_a_source_valid_until_a_later_date_is_no_finding(small_settings, capsys):
    edit_sources(small_settings.corpus_dir, lambda s: s[3].update(valid_until="2999-01-01"))
    status, lines = check(small_settings.corpus_dir, capsys)
    assert status == 0 and not any("expired" in line for line in lines)


def test_a_near_duplicate_passage_in_another_document_is_a_warning(small_settings, capsys):
    copy = ("La bourse Erasmus est versée chaque mois pendant la mobilité, "
            "montant : 210€ (groupe 3), 261€ (groupe 2) ou 312€ (groupe 1) par mois selon la destination.\n")
    add_source(small_settings.corpus_dir, "erasmus-copy.txt", copy)
    status, lines = check(small_settings.corpus_dir, capsys)
    assert status == 0
    assert any(line.startswith("warning: erasmus-copy: passage «La bourse Erasmus") and "nearly repeats uphf-faq" in line
               for line in lines), lines


def test_a_missing_metadata_file_is_one_error(tmp_path, capsys):
    (tmp_path / "a.txt").write_text("text", encoding="utf-8")
    status, lines = check(tmp_path, capsys)
    assert status == 2 and lines[0].startswith("error: sources.json: no sources.json in")
