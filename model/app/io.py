"""Every file the toolkit writes goes through here: atomic, and never over another run's files."""
from __future__ import annotations

import errno
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy and xarray load with the first netCDF written, not at start-up
    import xarray as xr

# Set by the apps' SIGINT/SIGTERM handler.  A library busy in C (h5py writing netCDF) can swallow
# the KeyboardInterrupt that the handler raises, so every write also checks this flag before its
# file is linked into place: an interrupted run never leaves a complete-looking file.
STOP_REQUESTED = threading.Event()


# Present in a run directory while its job runs; left behind by a run stopped part-way.
INCOMPLETE = "INCOMPLETE"


def mark_incomplete(path: Path) -> None:
    """Write the marker that says the directory's run has not finished (removed when it has)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("This run has not finished: it is running, or it was stopped part-way. Its files may be "
                    "partial.\n")


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
        if STOP_REQUESTED.is_set():
            raise KeyboardInterrupt
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


CONVENTIONS = "CF-1.8"


def netcdf_encoding(ds: xr.Dataset, compression: bool = True, float32: bool = False,
                    chunked: bool = False) -> dict:
    """Per-variable encoding: zlib (level 4, shuffled) on every data variable with a shape, and
    float64 stored as float32 if asked (about 7 significant digits)."""
    encoding: dict = {}
    for name, var in ds.data_vars.items():
        enc: dict = {}
        if compression and var.ndim and var.dtype.kind in "fiub":
            enc.update(zlib=True, complevel=4, shuffle=True)
        if float32 and var.dtype == "float64":
            enc["dtype"] = "float32"
        if chunked and var.chunks and var.ndim:
            enc["chunksizes"] = tuple(max(max(c), 1) for c in var.chunks)
        if enc:
            encoding[name] = enc
    return encoding


def check_space(ds: xr.Dataset, path: Path) -> None:
    """Refuse (``OSError`` ENOSPC) a netCDF write whose uncompressed size exceeds the free space.

    HDF5 on a full disk prints a traceback per object and can crash the interpreter while it
    cleans up, so the space is checked before the file is created.  The uncompressed size is an
    upper bound: a compressed file may have fitted, and the message says so.
    """
    needed = sum(int(v.nbytes) for v in ds.variables.values())
    free = shutil.disk_usage(Path(path).parent).free
    if needed > free:
        raise OSError(errno.ENOSPC, f"no space left on device ({needed / 1e6:,.1f} MB uncompressed needed at "
                                    f"most, {free / 1e6:,.1f} MB free)", str(path))


def write_netcdf(ds: xr.Dataset, path: Path, compression: bool = True, float32: bool = False) -> Path:
    """Write a Dataset to netCDF-4 (h5netcdf) atomically, compressed by default, with a
    ``Conventions`` attribute."""
    ds = ds.assign_attrs(Conventions=CONVENTIONS)
    encoding = netcdf_encoding(ds, compression, float32)

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    check_space(ds, path)
    return write_atomic(path, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf", encoding=encoding))


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


def write_netcdf_chunked(ds: xr.Dataset, path: str | os.PathLike, compression: bool = True,
                         float32: bool = False) -> None:
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
    compression, float32
        As :func:`netcdf_encoding`.

    Notes
    -----
    Under a ``dask.distributed`` client the chunks are computed on the workers and xarray
    writes them there, reopening the file for every write under a cluster-wide lock: correct,
    but far slower than the threaded scheduler for many small chunks, and the path must be
    on a file system the workers share.
    """
    ds = ds.assign_attrs(Conventions=CONVENTIONS)
    check_space(ds, Path(path))
    ds.to_netcdf(path, engine="h5netcdf", encoding=netcdf_encoding(ds, compression, float32, chunked=True))
