"""DeconvolutionLab2's data preparation, in numpy: padding, apodization, PSF placement.

Conventions (DL2 2.1.2 ``Algorithm.run``, ``signal.padding``, ``signal.apodization``,
``RealSignal.size/normalize/circular``), for an image of shape (P, M, N) = (z, y, x):

1. the image is padded with zeros to the working shape, placed at offset ``(padded - n) // 2``;
2. the padded image is multiplied by the separable apodization window;
3. the PSF is cropped/zero-padded to the working shape, centred at offset
   ``trunc((working - psf) / 2)``;
4. the PSF is normalised to sum ``norm`` (sum accumulated in float32, as DL2 does);
5. voxel ``n // 2`` of the PSF is moved to the origin (``numpy.fft.ifftshift``).
"""

from __future__ import annotations

import math

import numpy as np

from .options import Apodization, Padding

__all__ = ["pad_image", "crop_image", "apodize", "prepare_psf", "dl2_hermitian", "laplacian_grid",
           "laplacian_even_half", "laplacian_even_axes", "laplacian_from_axes",
           "is_hermitian_real", "working_laplacian"]


def _offsets(big, small):
    # Java integer division truncates toward zero
    return tuple(int((b - s) / 2) for b, s in zip(big, small))


def pad_image(image: np.ndarray, padding: Padding | None) -> np.ndarray:
    """Zero-pad ``image`` to ``padding``'s working shape (float32 copy)."""
    image = np.asarray(image, dtype=np.float32)
    if padding is None:
        return image.copy()
    shape = padding.padded_shape(image.shape)
    if shape == image.shape:
        return image.copy()
    out = np.zeros(shape, np.float32)
    off = _offsets(shape, image.shape)
    out[tuple(slice(o, o + n) for o, n in zip(off, image.shape))] = image
    return out


def crop_image(large: np.ndarray, shape) -> np.ndarray:
    """Inverse of :func:`pad_image`."""
    if tuple(large.shape) == tuple(shape):
        return large
    off = _offsets(large.shape, shape)
    return large[tuple(slice(o, o + n) for o, n in zip(off, shape))]


def _window(name: str, n: int) -> np.ndarray:
    x = np.arange(n, dtype=np.float32).astype(np.float64)
    nn = float(np.float32(n))
    if name == "NO" or n <= 1:
        return np.ones(n)
    if name == "HANN":
        w = 0.5 * (1 - np.cos(x * 2.0 * math.pi / (nn - 1)))
    elif name == "HAMMING":
        w = 0.54 - 0.46 * np.cos(x * 2.0 * math.pi / (nn - 1))
    elif name == "COS":
        w = np.cos(math.pi * x / (nn - 1) - math.pi * 0.5) ** 1.0
    elif name == "WELCH":
        b = (nn - 1) * 0.5
        w = 1.0 - ((x - b) / b) ** 2
    elif name == "TUKEY":
        alpha = 0.5
        a = alpha * (nn - 1.0) * 0.5
        w = np.where(x < a, 0.5 * (1.0 + np.cos(math.pi * (x / a - 1.0))),
                     np.where(x <= (nn - 1) * (1.0 - alpha * 0.5), 1.0,
                              0.5 * (1.0 + np.cos(math.pi * (x / a - 2 / alpha + 1.0)))))
    else:  # pragma: no cover - names are checked by Apodization
        raise ValueError(f"unknown apodization {name!r}")
    return w.astype(np.float32).astype(np.float64)  # DL2 returns float per axis


def apodize(image: np.ndarray, apodization: Apodization | None) -> np.ndarray:
    """Multiply ``image`` (ZYX or YX, float32) in place by DL2's separable window; return it."""
    if apodization is None or (apodization.xy == "NO" and apodization.z == "NO"):
        return image
    names = [apodization.xy] * 2 if image.ndim == 2 else [apodization.z, apodization.xy, apodization.xy]
    w = np.ones((1,) * image.ndim)
    for axis, (name, n) in enumerate(zip(names, image.shape)):
        shape = [1] * image.ndim
        shape[axis] = n
        w = w * _window(name, n).reshape(shape)
    image[...] = (w * image).astype(np.float32)
    return image


def prepare_psf(psf: np.ndarray, shape, norm: float | None) -> np.ndarray:
    """PSF in DL2's working form: resized to ``shape``, normalised, origin at voxel 0.

    Subnormal values (below float32's smallest normal, 1.2e-38: a Gaussian-like PSF's far tail
    in float32) become 0: next to a PSF that sums to ``norm`` they move its transform by
    ~1e-38 at most, and subnormal arithmetic made the PSF's FFT of the speed benchmark
    (0.3 % of its working grid subnormal) 1.36× slower (10.4 vs 7.6 ms)."""
    psf = np.asarray(psf, dtype=np.float32)
    off = _offsets(shape, psf.shape)
    dst, src = [], []
    for o, n, m in zip(off, shape, psf.shape):
        v = min(n, m)
        # the box's place in the centred grid, moved by ifftshift (a roll by -(n // 2)):
        # written there directly instead of shifting a whole grid (one volume fewer)
        start = o if o >= 0 else 0
        dst.append((np.arange(start, start + v) - n // 2) % n)
        src.append(slice(0, v) if o >= 0 else slice(-o, -o + v))
    box = np.array(psf[tuple(src)], dtype=np.float32)
    norm = 1.0 if norm is None else float(norm)
    if norm != 0 and box.size:
        # DL2 sums in float, in order over the working grid; the zeros around the box add
        # nothing, so the running float32 sum over the box in C order is the same number
        total = np.cumsum(box.ravel(), dtype=np.float32)[-1]
        if total != 0:
            # scaled in double, stored in float (DL2); only the box is non-zero
            box[...] = (box.astype(np.float64) * (norm / float(total))).astype(np.float32)
    box[np.abs(box) < np.finfo(np.float32).tiny] = 0
    out = np.zeros(shape, np.float32)
    out[np.ix_(*dst)] = box
    return out


def dl2_hermitian(first: np.ndarray, shape) -> np.ndarray:
    """DL2's ``ComplexSignalFactory.createHermitian`` (real part) on a (z, y, x) grid.

    ``first[x, y, z]`` holds the function for frequency indices ``0 … n // 2``. DL2 mirrors it
    to the other quadrants; for odd sizes its loops leave some entries at 0 (reproduced).
    """
    out = np.zeros(shape, np.float64)
    F = np.transpose(first, (2, 1, 0)) if len(shape) == 3 else np.transpose(first[:, :, 0])
    if len(shape) == 3:
        nz, ny, nx = shape
        zs, ys, xs = nz // 2, ny // 2, nx // 2
        if xs >= 1 and ys >= 1 and zs >= 1:
            out[:zs + 1, :ys + 1, :xs + 1] = F
            X, Y, Z = np.arange(xs), np.arange(ys), np.arange(zs)
            a, b, c = nx - 1 - X, ny - 1 - Y, nz - 1 - Z
            ix = np.ix_
            out[ix(Z, Y, a)] = F[ix(Z, Y, X + 1)]
            out[ix(Z, b, a)] = F[ix(Z, Y + 1, X + 1)]
            out[ix(Z, b, X)] = F[ix(Z, Y + 1, X)]
            out[ix(c, Y, X)] = F[ix(Z + 1, Y, X)]
            out[ix(c, Y, a)] = F[ix(Z + 1, Y, X + 1)]
            out[ix(c, b, a)] = F[ix(Z + 1, Y + 1, X + 1)]
            out[ix(c, b, X)] = F[ix(Z + 1, Y + 1, X)]
            return out
        if zs != 0:
            return out
        out2, F = out[0], F[0]  # a single plane: the 2D rule on it
    else:
        ny, nx = shape
        ys, xs = ny // 2, nx // 2
        out2 = out
    out2[:ys + 1, :xs + 1] = F
    X, Y = np.arange(xs), np.arange(ys)
    a, b = nx - 1 - X, ny - 1 - Y
    ix = np.ix_
    out2[ix(Y, a)] = F[ix(Y, X + 1)]
    out2[ix(b, a)] = F[ix(Y + 1, X + 1)]
    out2[ix(b, X)] = F[ix(Y + 1, X)]
    return out


def laplacian_grid(shape) -> np.ndarray:
    """DL2's ``ComplexSignalFactory.laplacian``: ``wx² + wy² + wz²`` with ``w = π k / (n // 2)``,
    as float32 values on the full FFT grid (z, y, x)."""
    sizes = [s // 2 for s in shape]
    # a 2D (y, x) grid is DL2's single-plane stack (1, y, x): no axial frequency
    xs, ys, zs = sizes[-1], sizes[-2], sizes[0] if len(shape) == 3 else 0
    wx = np.pi * np.arange(xs + 1) / xs if xs > 0 else np.zeros(1)
    wy = np.pi * np.arange(ys + 1) / ys if ys > 0 else np.zeros(1)
    wz = np.pi * np.arange(zs + 1) / zs if zs > 0 else np.zeros(1)
    first = (wx[:, None, None] ** 2 + wy[None, :, None] ** 2 + wz[None, None, :] ** 2)
    first = first.astype(np.float32)
    return dl2_hermitian(first, tuple(shape)).astype(np.float32)


def laplacian_even_axes(shape, rows: slice | None = None, columns: slice | None = None):
    """DL2's Laplacian of :func:`laplacian_even_half` as its separable float64 terms ``(wz,
    wy, wx)`` (1D; ``wz`` is ``[0.0]`` for a 2D grid, whose ``rows`` select from ``wy``): the
    grid is ``float32((wy + wx) + wz)``, for a loop that computes it where it needs it;
    ``None`` unless every size is even."""
    if any(n % 2 or n < 2 for n in shape):
        return None

    def w2(n, half=False):
        s = n // 2
        k = np.arange(s + 1) if half else np.minimum(np.arange(n), n - np.arange(n))
        return (np.pi * k / s) ** 2

    rows = slice(None) if rows is None else rows
    columns = slice(None) if columns is None else columns
    wx = w2(shape[-1], half=True)
    if len(shape) == 3:
        return w2(shape[0])[rows], w2(shape[-2])[columns], wx
    return np.zeros(1), w2(shape[-2])[rows], wx


def laplacian_even_half(shape, rows: slice | None = None, columns: slice | None = None):
    """DL2's Laplacian on the rfft half grid for a grid whose sizes are all even (``None``
    otherwise), without building the full grid; ``rows``: only those indices of the leading
    axis (a slab, for a caller that works slab by slab in cache); ``columns``: of a 3D grid,
    only those indices of the Y axis (all Z planes of some rows).

    For even sizes DL2's mirroring (:func:`dl2_hermitian`) gives
    every index ``i`` the frequency ``min(i, n - i)``, so the grid is Hermitian and separable:
    ``((wx² + wy²) + wz²)`` summed in float64 and stored in float32 as DL2 does, equal value
    for value to :func:`laplacian_grid` (tested); its terms: :func:`laplacian_even_axes`.
    """
    axes = laplacian_even_axes(shape, rows, columns)
    return None if axes is None else laplacian_from_axes(*axes, len(shape))


def laplacian_from_axes(wz, wy, wx, ndim: int):
    """The float32 grid ``(wy + wx) + wz`` of :func:`laplacian_even_axes`' terms."""
    grid = wy[:, None] + wx[None, :]
    if ndim == 3:
        grid = grid[None] + wz[:, None, None]
    return grid.astype(np.float32)


def working_laplacian(shape):
    """``(grid, full)``: DL2's Laplacian for a working grid of ``shape`` and whether it needs
    full complex transforms. Even sizes: the rfft half grid (:func:`laplacian_even_half`);
    otherwise the full grid (:func:`laplacian_grid`), which for some odd sizes is not
    Hermitian-symmetric (DL2's mirroring), so that rfft would not be exact: ``full`` then."""
    lap = laplacian_even_half(shape)
    if lap is not None:
        return lap, False
    lap = laplacian_grid(shape)
    return lap, not is_hermitian_real(lap)


def is_hermitian_real(grid: np.ndarray) -> bool:
    """Whether a real frequency-domain array satisfies ``g[k] == g[-k]`` (so rfft is exact)."""
    flipped = grid
    for axis in range(grid.ndim):
        flipped = np.roll(np.flip(flipped, axis), 1, axis)
    return bool(np.array_equal(grid, flipped))
