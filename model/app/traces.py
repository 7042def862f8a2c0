"""Read request traces (the formats of ``reference/traces/``) into :class:`model.trace.Trace`.

Two formats, told apart by their content, not their name:

- **Azure LLM inference trace 2023** (CSV): ``TIMESTAMP`` (date and time), ``ContextTokens``,
  ``GeneratedTokens``.
- **Mooncake** (JSON lines): ``timestamp`` (ms), ``input_length``, ``output_length``, ``hash_ids``
  (one id per 512-token block of the input).

Every fault is a :class:`~model.errors.ConfigError` naming the config key that gave the path.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from model.errors import ConfigError
from model.trace import Trace

AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
MOONCAKE_FIELDS = ("timestamp", "input_length", "output_length")
MOONCAKE_BLOCK_TOKENS = 512  # Mooncake FAST'25 trace README: one hash id per 512-token block
FORMATS = "an Azure LLM trace CSV (TIMESTAMP,ContextTokens,GeneratedTokens) or a Mooncake JSONL " \
          "(timestamp, input_length, output_length[, hash_ids])"


def read_trace(path: str | Path, key: str = "trace") -> Trace:
    """The trace at ``path``; ``key`` is the config key named in any refusal."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(key, str(path), "no such file; expected " + FORMATS)
    try:
        with path.open("rb") as f:
            head = f.read(4096)
        first = head.decode("utf-8").lstrip()
    except (OSError, UnicodeDecodeError):
        raise ConfigError(key, str(path), "not a text file; expected " + FORMATS) from None
    if first.startswith("{"):
        return _read_mooncake(path, key)
    if first.split("\n", 1)[0].strip().split(",")[:3] == list(AZURE_COLUMNS):
        return _read_azure(path, key)
    raise ConfigError(key, str(path), "unknown format; expected " + FORMATS)


def _lengths(values: np.ndarray, key: str, path: Path, what: str) -> np.ndarray:
    numbers = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(numbers) | (numbers < 0) | (numbers != np.round(numbers)) | (numbers > 2**40)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ConfigError(key, str(path), f"request {row + 1}: {what}={values[row]!r} is not a whole number "
                                          "of tokens >= 0")
    return numbers.astype(np.int64)


def _finish(path: Path, key: str, seconds: np.ndarray, inputs: np.ndarray, outputs: np.ndarray,
            blocks: list | None) -> Trace:
    if len(seconds) == 0:
        raise ConfigError(key, str(path), "the trace holds no requests")
    order = np.argsort(seconds, kind="stable")  # arrival order; ties keep the file's order
    arrival = seconds[order] - seconds[order[0]]
    ids = offsets = None
    if blocks is not None:
        per_request = [blocks[i] for i in order]
        counts = np.fromiter((len(b) for b in per_request), dtype=np.int64, count=len(per_request))
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        ids = np.fromiter((h for b in per_request for h in b), dtype=np.int64, count=int(offsets[-1]))
    return Trace(arrival_s=arrival, input_tokens=inputs[order], output_tokens=outputs[order], source=str(path),
                 block_ids=ids, block_offsets=offsets,
                 block_tokens=MOONCAKE_BLOCK_TOKENS if blocks is not None else None)


def _read_azure(path: Path, key: str) -> Trace:
    try:
        table = pd.read_csv(path, dtype=str)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise ConfigError(key, str(path), f"not a readable CSV ({type(err).__name__}); expected " + FORMATS) from None
    stamps = pd.to_datetime(table["TIMESTAMP"], errors="coerce", format="ISO8601")
    if stamps.isna().any():
        row = int(np.flatnonzero(stamps.isna().to_numpy())[0])
        raise ConfigError(key, str(path), f"request {row + 1}: TIMESTAMP={table['TIMESTAMP'].iloc[row]!r} "
                                          "is not a date and time")
    seconds = (stamps - stamps.min()).dt.total_seconds().to_numpy(dtype=float)
    inputs = _lengths(table["ContextTokens"].to_numpy(), key, path, "ContextTokens")
    outputs = _lengths(table["GeneratedTokens"].to_numpy(), key, path, "GeneratedTokens")
    return _finish(path, key, seconds, inputs, outputs, None)


def _read_mooncake(path: Path, key: str) -> Trace:
    stamps, inputs, outputs, blocks = [], [], [], []
    with_blocks = None
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise ConfigError(key, str(path), f"line {number} is not JSON; expected " + FORMATS) from None
            if not isinstance(record, dict) or any(k not in record for k in MOONCAKE_FIELDS):
                raise ConfigError(key, str(path), f"line {number} lacks one of {', '.join(MOONCAKE_FIELDS)}")
            has = "hash_ids" in record
            if with_blocks is None:
                with_blocks = has
            elif has != with_blocks:
                raise ConfigError(key, str(path), f"line {number}: hash_ids on some requests only")
            if has:
                ids = record["hash_ids"]
                if not isinstance(ids, list) or not all(isinstance(h, int) and not isinstance(h, bool) for h in ids):
                    raise ConfigError(key, str(path), f"line {number}: hash_ids must be a list of integers")
                blocks.append(ids)
            stamps.append(record["timestamp"])
            inputs.append(record["input_length"])
            outputs.append(record["output_length"])
    ms = pd.to_numeric(pd.Series(stamps, dtype=object), errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(ms).all():
        row = int(np.flatnonzero(~np.isfinite(ms))[0])
        raise ConfigError(key, str(path), f"request {row + 1}: timestamp={stamps[row]!r} is not a number of ms")
    return _finish(path, key, ms / 1e3, _lengths(np.array(inputs, dtype=object), key, path, "input_length"),
                   _lengths(np.array(outputs, dtype=object), key, path, "output_length"),
                   blocks if with_blocks else None)
