"""The dask cluster of the apps' out-of-core runs (``dask.enabled=true``): a client for a ``with`` block.

:func:`model.lazy.evaluate_lazy` builds the lazy grid; this module only starts (or reaches) the
cluster that computes it, so the core starts no processes.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from model.errors import ConfigError

if TYPE_CHECKING:
    from distributed import Client


@contextmanager
def dask_client(address: str | None = None, n_workers: int = 2,
                connect_timeout_s: float = 10.0) -> Iterator[Client]:
    """A ``distributed.Client`` for the duration of a ``with`` block.

    Parameters
    ----------
    address
        Scheduler address (e.g. ``"tcp://10.0.0.5:8786"``) to connect to; ``None`` or
        ``"local"`` starts a ``LocalCluster`` of ``n_workers`` worker processes with one thread
        each (no dashboard).
    n_workers
        Worker processes of the local cluster (ignored with an address).
    connect_timeout_s
        How long to wait for the scheduler at ``address``; past it, :class:`ConfigError`.

    Yields
    ------
    distributed.Client
        The client; it is the default dask scheduler inside the block.  On exit the client
        is closed, and the local cluster too if this function started it.  Worker processes
        are spawned, so a script using a local cluster needs an ``if __name__ == "__main__":``
        guard.
    """
    from distributed import Client, LocalCluster

    # distributed logs every scheduler, nanny and client event at INFO, and Hydra's job logging
    # prints INFO to the console: 33 lines around a two-job sweep's answer.  Its warnings and
    # errors still show; the level is put back when the block ends.
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        if address is None or address == "local":
            # its worker processes log errors only: a heartbeat a loaded machine answers late is
            # a warning with a traceback, and the client raises whatever does fail
            with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                              dashboard_address=None, silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
                yield client
        else:
            try:
                client = Client(address, timeout=connect_timeout_s)
            except (OSError, ValueError, TypeError) as err:  # refused, timed out, or not an address
                raise ConfigError("dask.address", address,
                                  f"no dask scheduler answered within {connect_timeout_s:g} s "
                                  f"({type(err).__name__}); give tcp://host:port of a running scheduler, "
                                  "or null for a local cluster") from None
            with client:
                yield client
    finally:
        quiet.setLevel(level)
