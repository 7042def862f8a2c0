"""A write that cannot fit is refused before HDF5 creates the file (HDF5 on a full disk can crash)."""
import errno
import shutil
from collections import namedtuple

import numpy as np
import pytest
import xarray as xr

from model.app import io

Usage = namedtuple("Usage", "total used free")


def test_a_netcdf_larger_than_the_free_space_is_refused_before_writing(tmp_path, monkeypatch):
    """1,000 float64 values are 8,000 bytes uncompressed; with 4,000 bytes free the write is refused
    with ENOSPC and leaves no file, temporary or final."""
    ds = xr.Dataset({"x": ("i", np.zeros(1000))}, coords={"i": np.arange(1000, dtype=np.int32)})
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**9, 10**9 - 4000, 4000))
    with pytest.raises(OSError) as err:
        io.write_netcdf(ds, tmp_path / "x.nc")
    assert err.value.errno == errno.ENOSPC and "no space left on device" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_a_netcdf_that_fits_is_written(tmp_path, monkeypatch):
    ds = xr.Dataset({"x": ("i", np.zeros(10))})
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**9, 0, 10**9))
    io.write_netcdf(ds, tmp_path / "x.nc")
    assert (tmp_path / "x.nc").exists()
