"""Progress bars for long work: shown only on a terminal, and only after a couple of seconds."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm

DELAY_S = 2.0


@contextmanager
def progress_bar(description: str, unit: str = "block") -> Iterator[Callable[[int, int], None]]:
    """A ``(done, total)`` callback drawing a bar on stderr; silent when stderr is not a TTY
    (``disable=None``) and for work that ends within :data:`DELAY_S`."""
    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=description, unit=unit, delay=DELAY_S, disable=None, leave=False)
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()
