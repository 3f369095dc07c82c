"""`rag bench`: warm latency of each stage over the evaluation questions (medians and p95), beside the bare
query encoding every pipeline on the same embedder pays; with `--build`, also how long a first index build
(nothing cached) and a rebuild of the unchanged corpus take."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from .evaluation import DEFAULT_DATASET, load_dataset, percentile


def run_bench(args, settings) -> int:
    """Warm per-stage latency over the evaluation questions, `repeat` rounds, medians and p95."""
    from .assistant import Assistant
    from .language import warm as warm_language_tables
    from .retrieval.names import warm_word_lists

    items = load_dataset(args.dataset or DEFAULT_DATASET)
    started = time.perf_counter()
    assistant = Assistant.load(settings=settings)
    assistant.ask("warm up")
    warm_word_lists()   # the server builds them in the background at start: warm means after that
    warm_language_tables()
    load_seconds = time.perf_counter() - started
    timings = {stage: [] for stage in ("embed", "search", "answer", "total")}
    bare = []   # the query encoding alone, the floor any pipeline on this embedder pays
    for _ in range(args.repeat):
        for item in items:
            answer = assistant.ask(item.question)
            for stage in timings:
                timings[stage].append(answer.timings_ms[stage])
            began = time.perf_counter()
            assistant.embedder.encode_queries([item.question])
            bare.append((time.perf_counter() - began) * 1000)
    timings["encoding only"] = bare
    print(f"load (index + embedder): {load_seconds:.2f} s; {len(items)} questions x {args.repeat} rounds")
    print(f"{'stage':14}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for stage, values in timings.items():
        values.sort()
        print(f"{stage:14}{statistics.median(values):10.2f}{percentile(values, 95):10.2f}{values[-1]:10.2f}")
    print(f"warm ask p50 / bare encoding p50: {statistics.median(timings['total']) / statistics.median(bare):.2f}x")
    try:
        import resource

        print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    except ImportError:
        pass
    if getattr(args, "build", False):
        first, again = time_builds(settings)
        print(f"first index build (no vector cached): {first:.1f} s; the unchanged corpus rebuilt: {again:.1f} s")
    return 0


def time_builds(settings) -> tuple[float, float]:
    """Seconds of a first index build of the corpus, with no vector cached, then of a rebuild of the unchanged
    corpus, each as `rag index` runs it (the embedder loaded afresh). Both write into a temporary folder,
    removed after: index/ and its cache are not touched."""
    from .index import build_index

    with tempfile.TemporaryDirectory(prefix="rag-bench-") as folder:
        target = settings.replace(index_dir=Path(folder) / "index")
        first = build_index(target)
        again = build_index(target)
    return first.seconds, again.seconds
