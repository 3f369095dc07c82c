"""`rag bench`: warm latency of each stage over the evaluation questions (medians and p95), beside the bare
query encoding every pipeline on the same embedder pays."""

from __future__ import annotations

import statistics
import time

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
    return 0
