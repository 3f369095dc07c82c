"""Merge the question sets of eval/sources/ (written, from session 4 on, by people who saw the texts but not
the code) into the evaluation set, with four splits that stay fixed:

- train: the fitted models learn from it (the 105 former dev questions, 35% of the new ones, and every question of
  TRAIN_ONLY);
- dev: thresholds and every choice of method are made on it (30% of the new ones);
- test: reported only (the 101 former test questions, and 15% of the new ones);
- blind: never used to choose anything (eval/blind_check.jsonl: the 30 former blind questions, 20% of the new ones).

A new question's split comes from a hash of its id, so re-running this script changes nothing, and a new file
in SOURCES adds its questions without moving any other (one in TRAIN_ONLY, to the train split alone).
Usage: python eval/build_splits.py   (idempotent; rewrites eval/qa.jsonl and eval/blind_check.jsonl)
"""

import hashlib
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = ["student_answerable.jsonl", "student_out_of_scope.jsonl", "student_conversations.jsonl",
           "student_answerable_2.jsonl", "student_out_of_scope_2.jsonl", "student_conversations_2.jsonl",
           "student_conversations_3.jsonl", "student_questions_4.jsonl",
           # session 14: short second turns, of three kinds the earlier sets had few of: a request for help with
           # no subject ("can you help me?"), a short new topic (answered or not), a short follow-up
           "student_conversations_14.jsonl"]
# Kept out of the splits on purpose: a check of the conversation handling written after it was built, without
# the topic-change markers of the earlier sets (`rag eval --dataset eval/sources/student_conversations_4.jsonl`).
OUTSIDE = ["student_conversations_4.jsonl"]
# Also kept out: 505 questions written in session 8 from the texts alone (410 single questions, 95 two-turn
# conversations), a larger check of what the splits do not show (`rag eval --dataset
# eval/sources/student_questions_8.jsonl`).
OUTSIDE += ["student_questions_8.jsonl"]
# And 60 dev and test questions (40 answerable, 20 out of scope) translated in session 13 into Indonesian, Czech,
# Hindi and Romanian, four languages USE was never trained on: how the assistant reads a language one of its
# models does not (`rag eval --dataset eval/sources/translated_unread_languages_13.jsonl`).
OUTSIDE += ["translated_unread_languages_13.jsonl"]
# And 60 two-turn conversations written in session 14 by another writer, also from the texts alone: 20 requests for
# help with no subject, 20 short new topics, 20 short follow-ups (`rag eval --dataset
# eval/sources/student_conversations_help_14.jsonl`).
OUTSIDE += ["student_conversations_help_14.jsonl"]
# And 150 more short two-turn conversations of session 14 (50 unanswered short new topics, 50 answered, 50 short
# follow-ups): refitting the conversation models with their train share lowered every set, so they check instead
# (`rag eval --dataset eval/sources/student_conversations_14b.jsonl`).
OUTSIDE += ["student_conversations_14b.jsonl"]
# And 480 second turns of session 15, labelled by whether they lean on the first turn, with no needles: a check of
# the follow-up and small-talk decisions only (`.venv/bin/python eval/second_turns.py`). Used as more training for
# the question-form model, they moved 14b's decisions but not dev's (docs/figures.md, session 15).
OUTSIDE += ["second_turns_15.jsonl"]
# Session 18: 613 questions written from the texts alone by four writers (one per part of the texts; 410 answerable,
# 186 out of scope, 17 small talk, 90 of them second turns of a conversation; 15 languages; typed as students type), all in the train split: they
# grow what the fitted models learn from while dev, test and blind stay the same questions, so that before and
# after are measured on one set. The answer-sentence model that picks the answer's first line learnt from them
# (docs/figures.md, session 18). Session 19: 303 short second turns (166 follow-ups, 94 small talk, 43 new topics, 15
# languages) by two more writers, from which the small-talk model learnt (docs/figures.md, session 19).
TRAIN_ONLY = ["student_questions_18.jsonl", "student_second_turns_19.jsonl"]
SHARES = [("train", 0.35), ("dev", 0.30), ("test", 0.15), ("blind", 0.20)]


def split_of(item_id: str) -> str:
    x = int(hashlib.sha256(item_id.encode()).hexdigest()[:8], 16) / 16 ** 8
    total = 0.0
    for name, share in SHARES:
        total += share
        if x < total:
            return name
    return SHARES[-1][0]


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> None:
    sourced = {name: read(HERE / "sources" / name) for name in SOURCES + TRAIN_ONLY}
    merged = {r["id"] for rows in sourced.values() for r in rows}   # re-running replaces them, never doubles them
    qa = [r for r in read(HERE / "qa.jsonl") if r["id"] not in merged]
    blind = [r for r in read(HERE / "blind_check.jsonl") if r["id"] not in merged]
    for r in blind:
        r["split"] = "blind"
    for name in SOURCES:
        for r in sourced[name]:
            r["split"] = split_of(r["id"])
            (blind if r["split"] == "blind" else qa).append(r)
    for name in TRAIN_ONLY:
        for r in sourced[name]:
            r["split"] = "train"
            qa.append(r)
    for path, rows in ((HERE / "qa.jsonl", qa), (HERE / "blind_check.jsonl", blind)):
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    counts = {}
    for r in qa + blind:
        counts[r["split"]] = counts.get(r["split"], 0) + 1
    print(counts)


if __name__ == "__main__":
    main()
