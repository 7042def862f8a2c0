"""Every file the toolkit writes goes through here: atomic, and never over another run's files."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import xarray as xr


class OutputExistsError(FileExistsError):
    """The run directory already holds an output of this name (from another run)."""


def check_fresh(directory: Path, names: Iterable[str]) -> None:
    """Refuse to start when any of ``names`` already exists in ``directory``."""
    for name in names:
        path = Path(directory) / name
        if path.exists():
            raise OutputExistsError(f"{path} exists: refusing to overwrite another run's output; "
                                    "choose a new hydra.run.dir")


def write_atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then link it into place.

    The final name appears only once complete (no half-written file), and ``os.link`` fails
    instead of replacing a file that another run wrote meanwhile.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        try:
            os.link(tmp_path, path)
        except FileExistsError:
            raise OutputExistsError(f"{path} exists: refusing to overwrite another run's output") from None
    finally:
        tmp_path.unlink(missing_ok=True)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_netcdf(ds, path: Path) -> Path:
    """Write a Dataset to netCDF-4 (h5netcdf) atomically."""
    return write_atomic(path, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))


def write_text(text: str, path: Path) -> Path:
    """Write a text file atomically."""
    return write_atomic(path, lambda tmp: tmp.write_text(text))


def save_figure(fig, path: Path) -> Path:
    """Save a figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    try:
        return write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    finally:
        plt.close(fig)


def replace_text(text: str, path: Path) -> Path:
    """Atomically replace ``path`` (a file this tool owns, e.g. the calibration catalog file)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)
    return path


def write_netcdf_chunked(ds: xr.Dataset, path: str | os.PathLike) -> None:
    """Write a (dask-backed) Dataset to netCDF-4 with h5netcdf, one dask chunk at a time.

    Every dask-backed variable is stored with HDF5 chunks of its dask chunk shape (the largest
    chunk along each dim), so each dask chunk lands in whole netCDF chunks and reading a chunk
    back touches no others.  The data are computed by the current dask scheduler while they are
    written; nothing of full size is held in memory.  Numpy-backed variables (coordinates) are
    written as they are.

    Parameters
    ----------
    ds
        Dataset to write, e.g. from :func:`evaluate_lazy`.
    path
        Output file; overwritten if it exists.

    Notes
    -----
    Under a ``dask.distributed`` client the chunks are computed on the workers and xarray
    writes them there, reopening the file for every write under a cluster-wide lock: correct,
    but far slower than the threaded scheduler for many small chunks, and the path must be
    on a file system the workers share.
    """
    encoding = {}
    for name, var in ds.variables.items():
        if var.chunks and var.ndim:
            encoding[name] = {"chunksizes": tuple(max(max(c), 1) for c in var.chunks)}
    ds.to_netcdf(path, engine="h5netcdf", encoding=encoding)
