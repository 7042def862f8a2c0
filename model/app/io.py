"""Writing results at the edge: atomic, and never over another run's files."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable


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
    return write_atomic(path, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))


def write_text(text: str, path: Path) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_text(text))


def save_figure(fig, path: Path) -> Path:
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
