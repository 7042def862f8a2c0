"""Timing shared by the benchmark scripts (run as ``python benchmarks/bench_*.py``: this folder is on the path)."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(func: Callable[[], Any], repeats: int) -> float:
    """Median wall seconds of ``repeats`` calls of ``func`` after one warm-up call (imports, caches,
    first touch of memory)."""
    func()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
