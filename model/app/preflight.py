"""The model app's checks beyond the config's values, made before Hydra creates the run directory.

- The grid's size: a grid that would not fit in memory is refused (one line naming its size,
  suggesting dask or a smaller grid) before anything is written; ``model.evaluate`` checks the
  same again when it allocates.
- A scheduler named by ``dask.address`` must answer (``model.app.cluster.dask_client`` refuses the
  same way if it goes away in between).
"""
from __future__ import annotations

import socket
from urllib.parse import urlsplit

from omegaconf import DictConfig

from model.app.validate import validate
from model.errors import ConfigError
from model.evaluate import check_memory, result_bytes
from model.parameters import grid_sizes
from model.quantities import CELL_OUTPUTS


def check_scheduler(address: str, timeout_s: float) -> None:
    """Refuse (:class:`ConfigError`) unless a TCP connection to ``address`` opens within ``timeout_s``.

    Parameters
    ----------
    address
        ``tcp://host:port`` (or ``host:port``) of a dask scheduler.
    timeout_s
        Seconds to wait for the connection.
    """
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number
        host, port = None, None
    if parts.scheme not in ("tcp", "tls") or not host or port is None:
        raise ConfigError("dask.address", address, "must be tcp://host:port of a dask scheduler, or null for a "
                          "local cluster")
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as err:
        reason = "timed out" if isinstance(err, TimeoutError) else (err.strerror or type(err).__name__)
        raise ConfigError("dask.address", address, f"no dask scheduler answered within {timeout_s:g} s ({reason}); "
                          "give tcp://host:port of a running scheduler, or null for a local cluster") from None


def validate_grid_job(cfg: DictConfig) -> DictConfig:
    """The cost model's checks, then the grid's size in memory (unless it goes to dask) and, with
    ``dask.enabled`` and an address, that the scheduler answers.

    Parameters
    ----------
    cfg
        A composed model config.

    Returns
    -------
    DictConfig
        The validated config.
    """
    cfg = validate(cfg)
    if not cfg.dask.enabled:
        sizes = {"model": len(cfg.select.models), "hardware": len(cfg.select.hardware),
                 **grid_sizes(cfg)}
        check_memory(result_bytes(sizes, CELL_OUTPUTS), float(cfg.grid.max_memory_fraction))
    if cfg.dask.enabled and cfg.dask.address not in (None, "local"):
        check_scheduler(str(cfg.dask.address), float(cfg.dask.connect_timeout_s))
    return cfg
