"""How the assistant reads the second turn of a two-turn chat: taken for small talk, read with the first turn, or
read alone, against whether it leans on the first turn ("depends"). The questions of
eval/sources/second_turns_15.jsonl (480: 240 that depend, 240 that stand alone, 32 in each of 15 languages) were
written in session 15 from the texts alone, without sight of the code, and are kept out of the splits: a check
of the follow-up and small-talk decisions, not of the answers (they carry no needles).
Usage: .venv/bin/python eval/second_turns.py [FILE]
"""

import collections
import json
import sys
from pathlib import Path

from rag.assistant import Assistant

DEFAULT = Path(__file__).resolve().parent / "sources" / "second_turns_15.jsonl"


def main(path: Path) -> None:
    assistant = Assistant.load()
    counts, by_language = collections.Counter(), collections.defaultdict(collections.Counter)
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        first = record["history"][0]["content"] if isinstance(record["history"][0], dict) else record["history"][0]
        answer = assistant.ask(record["question"], history=[first])
        reading = "small talk" if answer.small_talk else "with the first turn" if answer.follow_up else "alone"
        kind = "depends" if record["depends"] else "stands alone"
        counts[kind, reading] += 1
        right = reading == ("with the first turn" if record["depends"] else "alone")
        by_language[record["lang"]][right] += 1
    for kind in ("depends", "stands alone"):
        total = sum(v for (k, _), v in counts.items() if k == kind)
        print(f"{kind} ({total}): " + ", ".join(f"{reading} {counts[kind, reading]}"
                                                 for reading in ("with the first turn", "alone", "small talk")))
    print("read as labelled, by language: " + ", ".join(f"{language} {c[True]}/{c[True] + c[False]}"
                                                        for language, c in sorted(by_language.items())))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT)
