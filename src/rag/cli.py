"""The `rag` command: index, corpus check, ask, eval, bench, load, serve. An edge: it parses, calls the core, prints."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .errors import InvalidQuestionError, InvalidSettingError, RagError
from .fitted import MODEL_KEYS
from .settings import DEFAULT_EMBEDDER, Settings


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit 2, as the contract says
        self.exit(2, f"rag: {message} (see `rag {self.prog.split()[-1]} --help`)\n" if " " in self.prog else f"rag: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {value}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 1 to 65535, got {value}")
    return value


def _top_k(text: str) -> int:
    value = _positive_int(text)
    if value > 5:
        raise argparse.ArgumentTypeError(f"must be at most 5 (citations are capped at 5), got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rag", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("index", help="build the index from the corpus")
    p.add_argument("--corpus", type=Path, help="corpus folder (default: corpus/)")
    p.add_argument("--out", type=Path, help="index folder to write (default: index/)")
    p.add_argument("--embedder", help=f"{DEFAULT_EMBEDDER} (default, offline), e5-small, use-multilingual-v3, or a "
                                      "sentence-transformers model name or folder")

    p = sub.add_parser("corpus", help="work on the corpus folder: `rag corpus check`")
    corpus = p.add_subparsers(dest="corpus_command", required=True, parser_class=_Parser)
    c = corpus.add_parser("check", help="report unreadable files, missing or invalid metadata, near-duplicate "
                                        "passages and expired sources; exit 2 on errors, 0 with warnings only")
    c.add_argument("--corpus", type=Path, help="corpus folder (default: corpus/)")

    p = sub.add_parser("ask", help="answer one question, or a batch with --batch")
    p.add_argument("question", nargs="?", help="the question, in any language")
    p.add_argument("--top-k", type=_top_k, help="citations at most (1 to 5, default 3)")
    p.add_argument("--json", action="store_true", help="print the answer object as JSON")
    p.add_argument("--batch", help="JSON Lines file of {\"question\", \"id\", \"history\"} objects, or - for standard input")
    _common(p)

    p = sub.add_parser("eval", help="run the evaluation set and print its metrics")
    p.add_argument("--dataset", type=Path, help="JSON Lines evaluation set (default: eval/qa.jsonl)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--report", type=Path, help="write metrics.json and report.html into this folder")
    p.add_argument("--fit", nargs="*", metavar="MODEL", choices=MODEL_KEYS,
                   help="fit the ranking, confidence and answer-sentence models on the train split, choose the "
                        "abstention threshold on the dev split, save them for the embedder, then evaluate; with "
                        "model names (ranker, quote_ranker, sentence, quote_sentence, confidence, form, follow_up, "
                        "small_talk), fit only those and keep the others")
    _common(p)

    p = sub.add_parser("bench", help="latency of each stage over the evaluation questions (medians and p95)")
    p.add_argument("--dataset", type=Path)
    p.add_argument("--repeat", type=_positive_int, default=5)
    p.add_argument("--build", action="store_true",
                   help="also time a first index build (nothing cached) and a rebuild of the unchanged corpus, in a "
                        "temporary folder (about two and a half minutes on 2 cores with the default embedder)")
    _common(p)

    p = sub.add_parser("load", help="serve on loopback and drive POST /api/ask with concurrent clients (a benchmark)")
    p.add_argument("--clients", type=_positive_int, default=50)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    p.add_argument("--dataset", type=Path, help="questions to ask (default: eval/qa.jsonl)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--swap-at", type=float, metavar="SECONDS",
                   help="rebuild a copy of the index this many seconds in; report how the swap went under load")
    _common(p)

    p = sub.add_parser("serve", help="start the web app")
    p.add_argument("--host", default=None, help="default 127.0.0.1")
    p.add_argument("--port", type=_port, default=None, help="default 7860")
    _common(p)
    return parser


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", type=Path, help="index folder to answer from (default: index/)")
    p.add_argument("--corpus", type=Path, help="corpus folder the index must match (default: corpus/)")
    p.add_argument("--embedder", help=f"embedder the index was built with (default: {DEFAULT_EMBEDDER})")


def settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    return settings.replace(corpus_dir=getattr(args, "corpus", None),
                            index_dir=getattr(args, "index", None) or getattr(args, "out", None),
                            embedder=getattr(args, "embedder", None))


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # usage errors (exit 2) and --help (exit 0)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return COMMANDS[args.command](args)
    except RagError as exc:
        print(f"rag: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def cmd_index(args) -> int:
    from .index import build_index

    summary = build_index(settings_from(args), progress=sys.stderr.isatty())
    print(summary.line())
    return 0


def cmd_corpus(args) -> int:
    from .corpus.check import check_corpus, report
    from .corpus.sources import read_raw_entries

    settings = settings_from(args)
    findings = check_corpus(settings.corpus_dir, chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap)
    try:
        sources = len(read_raw_entries(settings.corpus_dir))
    except RagError:
        sources = 0
    text, status = report(findings, sources)
    print(text)
    return status


def cmd_ask(args) -> int:
    from .assistant import Assistant

    settings = settings_from(args)
    if args.batch is None and args.question is None:
        raise InvalidQuestionError("no question: rag ask \"How much is the Erasmus grant?\" (or --batch FILE)")
    if args.batch is not None and args.question is not None:
        raise InvalidSettingError("give either a question or --batch FILE, not both")
    if args.batch is not None and not args.json:
        raise InvalidSettingError("--batch prints JSON Lines: add --json")
    records = read_batch(args.batch) if args.batch is not None else None
    assistant = Assistant.load(settings=settings)
    if records is None:
        answer = assistant.ask(args.question, top_k=args.top_k)
        print(json.dumps(answer.to_dict(), ensure_ascii=False) if args.json else format_answer(answer))
        return 0
    for record in records:
        if "error" in record:   # a line that could not be read: its own error object, the others go on
            print(json.dumps(record, ensure_ascii=True), flush=True)
            continue
        try:
            answer = assistant.ask(record["question"], top_k=args.top_k, id=record.get("id"),
                                   history=history_texts(record.get("history")))
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
        except InvalidQuestionError as exc:  # one bad line does not lose the others
            # ensure_ascii: a lone surrogate in the echoed question must not break standard output
            print(json.dumps({"id": record.get("id"), "question": record.get("question"), "error": str(exc)},
                             ensure_ascii=True), flush=True)
    return 0


def history_texts(history) -> list[str]:
    """The user's earlier turns of a batch line's `history`, in the REST API's shape
    ([{"role": "user", "content": "..."}, ...]) or as plain strings."""
    if history is None:
        return []
    if not isinstance(history, list):
        raise InvalidQuestionError("history must be a list of turns")
    texts = []
    for turn in history:
        if isinstance(turn, dict):
            if turn.get("role", "user") != "user":
                continue
            turn = turn.get("content")
        if not isinstance(turn, str):
            raise InvalidQuestionError("each history turn must be text or {\"role\": ..., \"content\": \"...\"}")
        texts.append(turn)
    return texts


def read_batch(path: str) -> list[dict]:
    """The records of a JSON Lines batch; a line that is not a question object becomes {"line", "error"}, so
    it gets its own error object and the lines after it their answers. An unreadable file is one error."""
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise InvalidSettingError(f"cannot read batch file {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidSettingError(f"batch file {path} is not UTF-8 (byte {exc.start})") from None
    records = []
    # Lines end at "\n" only: U+2028 and other Unicode line breaks inside a JSON string are text.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            records.append({"line": number, "error": f"{path}, line {number}: not JSON ({exc.msg})"})
            continue
        if not isinstance(record, dict) or not isinstance(record.get("question"), str):
            records.append({"line": number, "id": record.get("id") if isinstance(record, dict) else None,
                            "error": f"{path}, line {number}: expected an object with a \"question\" text"})
            continue
        records.append(record)
    return records


def format_answer(answer) -> str:
    from .language import message

    lines = [answer.answer]
    if answer.citations:
        lines += ["", message(answer.language, "sources") + ":"]
        for c in answer.citations:
            lines.append(f"[{c.n}] {c.title} — {c.institution} ({c.url}), score {c.score:.2f}")
            lines.append("    " + c.text.replace("\n", "\n    "))
    return "\n".join(lines)


def cmd_eval(args) -> int:
    from .evaluation import run_cli

    return run_cli(args, settings_from(args))


def cmd_bench(args) -> int:
    from .bench import run_bench

    return run_bench(args, settings_from(args))


def cmd_load(args) -> int:
    from .loadtest import run_load

    return run_load(args, settings_from(args))


def cmd_serve(args) -> int:
    from .web import serve

    settings = settings_from(args)
    serve(settings, host=args.host, port=args.port)
    return 0


COMMANDS = {"index": cmd_index, "corpus": cmd_corpus, "ask": cmd_ask, "eval": cmd_eval, "bench": cmd_bench, "load": cmd_load,
            "serve": cmd_serve}

if __name__ == "__main__":
    sys.exit(main())
