"""Render phantoms through a microscope model and write them with their ground truth.

:func:`render_phantoms` writes, for each sample ``i`` of kind ``K`` into ``output_dir``::

    K_<i>_image.tif    simulated microscope image (uint16; calibrated ImageJ TIFF)
    K_<i>_labels.tif   instance labels (uint16, or float32 beyond 65535 labels)
    K_<i>_mask.tif     class mask (uint8; classes in params.json)
    K_<i>.graphml      ground-truth network (mito, cells)
    params.json        optics, camera and every sample's parameters
    preview.png        first sample: image and labels (max projection in 3D)

Every file is written atomically.  ``fijibridge synth phantoms`` is this function.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from .._core.atomic import atomic_path, atomic_write_text
from .._core.image import Image
from .._core.options import check_choice, check_positive

__all__ = ["render_phantoms", "KIND_NAMES", "PSF_CHOICES"]

log = logging.getLogger(__name__)

KIND_NAMES = ("nuclei", "mito", "golgi", "cells")
#: ``psf`` values naming a model (anything else is a PSF file)
PSF_CHOICES = ("gaussian", "bw", "born_wolf", "auto", "none")


def _check_arguments(kind, *, ndim, n, shape, spacing, phenotype, fusion, z_step,
                     wavelength_nm) -> dict:
    """The phantom keyword arguments, after checking every argument (ValueError)."""
    if ndim not in (2, 3):
        raise ValueError(f"ndim must be 2 or 3; got {ndim}")
    if shape is not None and len(shape) != ndim:
        raise ValueError(f"shape needs {ndim} values for ndim {ndim}; got {len(shape)}: "
                         f"{list(shape)}")
    if spacing is not None and len(spacing) != ndim:
        order = "Z Y X" if ndim == 3 else "Y X"
        raise ValueError(f"spacing needs {ndim} values ({order}) for ndim {ndim}; "
                         f"got {len(spacing)}: {list(spacing)}")
    if z_step != 1 and ndim != 3:
        raise ValueError(f"z_step applies to 3D (ndim 3); got z_step {z_step}")
    if wavelength_nm < 100:
        raise ValueError(f"wavelength_nm is in nm (e.g. 520); got {wavelength_nm}")
    kwargs: dict = {}
    if shape is not None:
        kwargs["shape"] = tuple(int(s) for s in shape)
    if spacing is not None:
        kwargs["spacing"] = tuple(float(s) for s in spacing)
    if kind in ("mito", "cells"):
        if fusion is not None:
            kwargs["fusion"] = fusion
        elif phenotype is not None:
            kwargs["phenotype"] = phenotype
    elif phenotype is not None or fusion is not None:
        raise ValueError(f"phenotype/fusion apply to mito and cells, not {kind}")
    return kwargs


def _psf_from_file(image: Image, spacing, ndim: int) -> np.ndarray:
    psf = np.asarray(image.squeeze().to_ndarray(), dtype=np.float64)
    if psf.ndim != ndim:
        raise ValueError(f"the PSF file {image.source} has {psf.ndim} dimensions (axes "
                         f"{image.squeeze().axes!r}) but the images have {ndim}")
    if image.calibrated and not np.allclose(image.squeeze().spacing, spacing, rtol=0.01):
        raise ValueError(f"the PSF file is sampled at {tuple(image.squeeze().spacing)} µm but "
                         f"the images at {tuple(spacing)} µm; resample the PSF or render at "
                         f"spacing {' '.join(str(s) for s in image.squeeze().spacing)}")
    return psf


def render_phantoms(kind: str, *, output_dir, n: int = 1, ndim: int = 2, shape=None,
                    spacing=None, phenotype: str | None = None, fusion: float | None = None,
                    psf: str = "gaussian", na: float = 1.4, wavelength_nm: float = 520.0,
                    refractive_index: float = 1.518, mode: str = "widefield",
                    photons: float = 200.0, background: float = 10.0, gain: float = 1.0,
                    offset: float = 100.0, read_noise: float = 2.0, bit_depth: int = 16,
                    z_step: int = 1, elastic_um: float = 0.0, seed: int = 0,
                    preview: bool = True) -> list[Path]:
    """Generate ``n`` phantoms of ``kind``, image them, and write them into ``output_dir``.

    Parameters
    ----------
    kind : {'nuclei', 'mito', 'golgi', 'cells'}
    output_dir : str or Path
        Folder for the files (created; see the module doc for what is written).
    n, ndim, shape, spacing
        Number of samples, 2 or 3 dimensions, image shape and voxel size in µm
        (``(z, y, x)`` or ``(y, x)``; default depends on the kind).
    phenotype, fusion
        mito/cells: ``'fused'``, ``'intermediate'`` or ``'fragmented'``, or the degree
        of fusion in [0, 1] (``fusion`` wins).
    psf : str
        ``'gaussian'``, ``'BW'`` (Born & Wolf), ``'auto'``, ``'none'`` (no microscope:
        the ground-truth density as float32), or an image file with a PSF sampled at
        ``spacing`` (any format :func:`fijibridge.read_image` reads).
    na, wavelength_nm, refractive_index, mode
        Optics (see :func:`fijibridge.synth.make_psf`).
    photons, background, gain, offset, read_noise, bit_depth, z_step
        Camera (see :func:`fijibridge.synth.simulate_microscope`).
    elastic_um : float
        Elastic deformation, RMS displacement in µm (0: none).
    seed : int
        Seed of the samples' random streams (same seed, same files).
    preview : bool
        Write ``preview.png`` of the first sample.

    Returns
    -------
    list of Path
        The files written, ``params.json`` (and ``preview.png``) last.
    """
    from ..io import read_image
    from ._base import jsonable
    from ._kinds import make_phantom
    from .deform import elastic_deform
    from .microscope import make_psf, simulate_microscope
    from .networks import graph_to_graphml

    kind = check_choice("kind", kind, KIND_NAMES)
    n = check_positive("n", n, integer=True)
    kwargs = _check_arguments(kind, ndim=ndim, n=n, shape=shape, spacing=spacing,
                              phenotype=phenotype, fusion=fusion, z_step=z_step,
                              wavelength_nm=wavelength_nm)
    psf_choice = psf.lower() if psf.lower() in PSF_CHOICES else None
    psf_image = None
    if psf_choice is None:
        path = Path(psf)
        if not path.suffix:
            raise ValueError(f"psf must be {', '.join(PSF_CHOICES)} or an image file; got "
                             f"{psf!r}")
        psf_image = read_image(path)  # FileNotFoundError / ImageFormatError speak for themselves
    model = {"bw": "born_wolf", "born_wolf": "born_wolf", "gaussian": "gaussian",
             "auto": "auto"}.get(psf_choice or "")

    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output_dir {str(out)!r} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    samples, kernel, first = [], None, None
    for i, child in enumerate(np.random.SeedSequence(seed).spawn(n)):
        rng = np.random.default_rng(child)
        ph = make_phantom(kind, ndim=ndim, rng=rng, **kwargs)
        if elastic_um > 0:
            ph = elastic_deform(ph, alpha_um=elastic_um, rng=rng)
        sp = tuple(ph.spacing)
        if psf_choice == "none":
            image, image_spacing = ph.image.astype(np.float32), sp
        else:
            if kernel is None:
                kernel = (_psf_from_file(psf_image, sp, ndim) if psf_image is not None else
                          make_psf(spacing=sp, na=na, wavelength_um=wavelength_nm / 1000.0,
                                   refractive_index=refractive_index, model=model, mode=mode))
            image = simulate_microscope(
                ph.image, spacing=sp, psf=kernel, photons=photons, background=background,
                gain=gain, offset=offset, read_noise=read_noise, bit_depth=bit_depth,
                z_step=z_step, rng=rng)
            image_spacing = sp if z_step == 1 else (sp[0] * z_step, *sp[1:])
        stem = f"{kind}_{i}"
        axes = "ZYX" if ndim == 3 else "YX"
        labels = ph.labels
        labels = labels.astype(np.uint16) if labels.max() < 65536 else labels.astype(np.float32)
        files = {"image": (image, image_spacing), "labels": (labels, sp),
                 "mask": (ph.class_mask.astype(np.uint8), sp)}
        names = {}
        for what, (data, where) in files.items():
            names[what] = f"{stem}_{what}.tif"
            written.append(_write(out / names[what], Image(data, axes=axes, spacing=where)))
        if ph.graph is not None:
            graph_to_graphml(ph.graph, out / f"{stem}.graphml")
            names["graph"] = f"{stem}.graphml"
            written.append(out / names["graph"])
        samples.append({"index": i, "files": names, "image_spacing": list(image_spacing),
                        "params": ph.params})
        if i == 0:
            first = (image, ph.labels)
        log.info("wrote %s (%d/%d)", stem, i + 1, n)
    record = {
        "kind": kind, "ndim": ndim, "n": n, "seed": seed,
        "psf": psf if psf_image is None else str(Path(psf).resolve()),
        "optics": {"na": na, "wavelength_nm": wavelength_nm,
                   "refractive_index": refractive_index, "mode": mode},
        "camera": {"photons": photons, "background": background, "gain": gain,
                   "offset": offset, "read_noise": read_noise, "bit_depth": bit_depth,
                   "z_step": z_step},
        "elastic_alpha_um": elastic_um,
        "psf_shape": None if kernel is None else list(kernel.shape),
        "samples": samples,
    }
    written.append(atomic_write_text(out / "params.json", json.dumps(jsonable(record), indent=1)))
    if preview and first is not None:
        written.append(_preview(out / "preview.png", *first,
                                title=f"{kind} {ndim}D, sample 0"))
    return written


def _write(path: Path, image: Image) -> Path:
    from .._core.tiff import write_tiff

    return write_tiff(path, image)


def _preview(path: Path, image, labels, *, title) -> Path:
    from .._core.figures import new_figure

    img = image.max(axis=0) if image.ndim == 3 else image
    lab = labels.max(axis=0) if labels.ndim == 3 else labels
    fig, axes = new_figure(1, 2, figsize=(8, 4))
    lo, hi = np.percentile(img, (1, 99.8))
    axes[0].imshow(img, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1)
    axes[0].set_title("image" + (" (max projection)" if image.ndim == 3 else ""))
    axes[1].imshow(lab, cmap="nipy_spectral", interpolation="nearest")
    axes[1].set_title("labels")
    for ax in axes:
        ax.set_axis_off()
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80)
    return path
