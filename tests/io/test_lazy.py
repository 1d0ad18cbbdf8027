"""Lazy TIFF reading: uncompressed contiguous planes read directly (row chunks, one
``pread`` per plane), everything else through tifffile's zarr store; both give the
pixels an eager read gives, for every layout."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from fijibridge import read_image
from fijibridge.io._common import lazy_contiguous

pytest.importorskip("dask")
pytest.importorskip("zarr")


@pytest.fixture
def lazy_env(monkeypatch):
    monkeypatch.setenv("FIJIBRIDGE_MAX_MEMORY", "1k")  # every file here is larger: lazy


def _same(path):
    eager = read_image(path, lazy=False)
    lazy = read_image(path)
    assert lazy.is_lazy
    assert (lazy.axes, lazy.shape, lazy.dtype, lazy.spacing, lazy.channels) == \
        (eager.axes, eager.shape, eager.dtype, eager.spacing, eager.channels)
    np.testing.assert_array_equal(lazy.data.compute(), eager.data)
    return lazy, eager


def test_imagej_hyperstack_read_directly(tmp_path, lazy_env):
    rng = np.random.default_rng(1)
    data = rng.integers(0, 60000, (2, 5, 3, 40, 33), dtype=np.uint16)  # T Z C Y X (ImageJ)
    path = tmp_path / "h.tif"
    tifffile.imwrite(path, data, imagej=True, resolution=(10.0, 10.0),
                     metadata={"axes": "TZCYX", "unit": "micron", "spacing": 0.3})
    with tifffile.TiffFile(path) as tif:
        assert tif.series[0].dataoffset is not None  # the direct route is the one tested
    lazy, eager = _same(path)
    assert any(str(k).startswith("fijibridge-tiff") for k in lazy.data.dask.layers)
    np.testing.assert_array_equal(lazy.data.max(axis=2).compute(), eager.data.max(axis=2))
    np.testing.assert_array_equal(lazy.channel(2).to_ndarray("TZYX"), data[:, :, 2])


@pytest.mark.parametrize("dtype", ["<u2", ">u2", ">f4", "<f4", "u1"])
def test_byte_orders_and_types(tmp_path, lazy_env, dtype):
    rng = np.random.default_rng(2)
    data = (rng.random((6, 20, 17)) * 200).astype(dtype)
    path = tmp_path / "b.ome.tif"
    tifffile.imwrite(path, data, ome=True, byteorder=dtype[0] if dtype[0] in "<>" else None,
                     metadata={"axes": "ZYX"})
    lazy, _ = _same(path)
    assert lazy.dtype.isnative
    np.testing.assert_array_equal(lazy.data.max(axis=0).compute(),
                                  data.astype(data.dtype.newbyteorder("=")).max(axis=0))


@pytest.mark.parametrize("kwargs", [{"compression": "zlib", "photometric": "minisblack"},
                                    {"tile": (16, 16), "photometric": "minisblack"},
                                    {"photometric": "rgb"}])
def test_other_layouts_through_the_zarr_store(tmp_path, lazy_env, kwargs):
    rng = np.random.default_rng(3)
    shape = (32, 48, 3) if kwargs.get("photometric") == "rgb" else (4, 32, 48)
    data = rng.integers(0, 255, shape, dtype=np.uint8)
    path = tmp_path / "o.tif"
    tifffile.imwrite(path, data, **kwargs)
    lazy, _ = _same(path)
    assert not any(str(k).startswith("fijibridge-tiff") for k in lazy.data.dask.layers)


def test_row_chunks_and_any_slice(tmp_path):
    rng = np.random.default_rng(4)
    data = rng.integers(0, 2**16, (3, 7, 11, 13), dtype=np.uint16)
    path = tmp_path / "r.tif"
    tifffile.imwrite(path, data)
    with tifffile.TiffFile(path) as tif:
        offset = tif.series[0].dataoffset
    arr = lazy_contiguous(path, offset, data.shape, data.dtype, "CZYX", target_chunk_bytes=600)
    assert arr.chunks[1][0] == 7 and arr.chunks[2][0] < 11  # Z grouped, rows split
    np.testing.assert_array_equal(arr.compute(), data)
    np.testing.assert_array_equal(arr[1, 2:6, 3:9, 4:10].compute(), data[1, 2:6, 3:9, 4:10])
    np.testing.assert_array_equal(arr[2, 5, 10].compute(), data[2, 5, 10])
    np.testing.assert_array_equal(arr.max(axis=1).compute(), data.max(axis=1))
    # same file, same array name: dask caches and tokens are stable
    assert lazy_contiguous(path, offset, data.shape, data.dtype, "CZYX").name == \
        lazy_contiguous(path, offset, data.shape, data.dtype, "CZYX").name


def test_truncated_file_is_an_error_when_read(tmp_path, lazy_env):
    data = np.arange(4 * 30 * 30, dtype=np.uint16).reshape(4, 30, 30)
    path = tmp_path / "t.tif"
    tifffile.imwrite(path, data, photometric="minisblack")
    with tifffile.TiffFile(path) as tif:
        offset = tif.series[0].dataoffset
    arr = lazy_contiguous(path, offset, data.shape, data.dtype, "ZYX")
    with open(path, "r+b") as fh:
        fh.truncate(offset + 2 * 30 * 30 * 2 + 100)
    with pytest.raises(OSError, match="truncated"):
        arr.compute()
