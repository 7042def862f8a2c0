"""The page's downloads as bytes (no files are written): grids, plans and indices as CSV and netCDF."""
from __future__ import annotations

import io

import pandas as pd
import xarray as xr

NETCDF_ENGINE = "h5netcdf"  # netCDF-4, as the CLI writes grid.nc


def netcdf_bytes(ds: xr.Dataset, command: str | None = None) -> bytes:
    """A Dataset as netCDF-4 bytes, with the equivalent command in its ``command`` attribute.

    Parameters
    ----------
    ds
        Any Dataset of the view (a grid, Sobol indices).
    command
        The equivalent CLI command, recorded as an attribute.

    Returns
    -------
    bytes
    """
    out = ds.copy()
    if command is not None:
        out.attrs["command"] = command
    for name in list(out.attrs):  # netCDF attributes are strings, numbers or arrays of them
        if isinstance(out.attrs[name], bool):
            out.attrs[name] = int(out.attrs[name])
    return bytes(out.to_netcdf(engine=NETCDF_ENGINE))


def grid_frame(ds: xr.Dataset) -> pd.DataFrame:
    """The grid as a flat table: one row per (model, hardware, isl, concurrency), one column per
    variable, units in the column names.

    Parameters
    ----------
    ds
        :func:`model.evaluate`'s Dataset.

    Returns
    -------
    pandas.DataFrame
    """
    dims = [d for d in ("model", "hardware", "isl", "concurrency") if d in ds.dims]
    names = {v: f"{v} [{ds[v].attrs['units']}]" if ds[v].attrs.get("units") else v for v in ds.data_vars}
    table = ds.to_dataframe(dim_order=dims).reset_index()
    return table.rename(columns=names)


def csv_bytes(table: pd.DataFrame) -> bytes:
    """A table as UTF-8 CSV bytes, without the index.

    Parameters
    ----------
    table
        Any table.

    Returns
    -------
    bytes
    """
    return table.to_csv(index=False).encode()


def as_file(data: bytes) -> io.BytesIO:
    """Bytes as the file object ``pn.widgets.FileDownload`` callbacks return.

    Parameters
    ----------
    data
        The content.

    Returns
    -------
    io.BytesIO
    """
    return io.BytesIO(data)
