"""A request trace as arrays: arrivals, lengths and (where the trace has them) prefix block ids.

Pure data; :mod:`model.app.traces` reads the files (``reference/traces/``: the Azure 2023 coding
CSV and the Mooncake JSONL). Demand profiles (fleets over a day) use the arrivals and lengths,
prefix-cache hit rates use the block ids.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Trace:
    """Requests in arrival order.

    ``arrival_s`` is seconds since the first request (so it starts at 0 and never decreases);
    ``input_tokens`` and ``output_tokens`` are per request. Traces with prefix hashes (Mooncake)
    give each request's blocks as ``block_ids[block_offsets[i]:block_offsets[i + 1]]``, one id per
    ``block_tokens`` tokens of its input, equal ids meaning equal prefixes; ``block_ids`` is None
    for traces without them.
    """

    arrival_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    source: str
    block_ids: np.ndarray | None = None
    block_offsets: np.ndarray | None = None
    block_tokens: int | None = None

    def __post_init__(self) -> None:
        n = len(self.arrival_s)
        if len(self.input_tokens) != n or len(self.output_tokens) != n:
            raise ValueError("arrival_s, input_tokens and output_tokens must have one value per request")
        if (self.block_ids is None) != (self.block_offsets is None):
            raise ValueError("block_ids and block_offsets go together")
        if self.block_offsets is not None and len(self.block_offsets) != n + 1:
            raise ValueError("block_offsets needs one more value than there are requests")

    def __len__(self) -> int:
        return len(self.arrival_s)

    @property
    def duration_s(self) -> float:
        """Seconds from the first to the last arrival."""
        return float(self.arrival_s[-1]) if len(self) else 0.0

    @property
    def has_blocks(self) -> bool:
        """Whether the trace carries prefix block ids (what a prefix-cache replay needs)."""
        return self.block_ids is not None

    def blocks(self, request: int) -> np.ndarray:
        """The prefix block ids of one request (raises if the trace has none)."""
        if self.block_ids is None or self.block_offsets is None:
            raise ValueError(f"{self.source} has no prefix block ids")
        return self.block_ids[self.block_offsets[request]:self.block_offsets[request + 1]]
