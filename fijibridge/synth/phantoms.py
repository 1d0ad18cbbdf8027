"""Phantoms of fluorescence specimens: nuclei, Golgi pairs, monocyte-like cells.

Every generator takes a shape (2D ``(y, x)`` or 3D ``(z, y, x)``), a voxel size
``spacing`` in µm and ``rng`` (int seed or :class:`numpy.random.Generator`), and
returns a :class:`~fijibridge.synth._base.Phantom`: the ground-truth density
``image``, instance ``labels``, a ``class_mask``, optional ``graph``, further
``masks`` and the ``params`` that describe every object.  The same seed gives the
same phantom, bit for bit, on any machine with the same numpy.  Mitochondrial
networks are in :mod:`fijibridge.synth.networks`, elastic deformation in
:mod:`fijibridge.synth.deform`, image formation in :mod:`fijibridge.synth.microscope`.

========================  ======================  ===========================  =====================
generator                 ``labels``              ``class_mask``               extra
========================  ======================  ===========================  =====================
:func:`nuclei`            one per nucleus         1 nucleus                    ``masks["overlap"]``
:func:`golgi`             nuclei 1..n, Golgi      1 nucleus, 2 Golgi           ``masks["pair_ids"]``,
                          n+1..2n (pair k: k,                                  ``masks["puncta_labels"]``
                          n+k)
:func:`cells`             one per cell            1 cytoplasm, 2 nucleus,      ``masks["nucleus_labels"]``,
                                                  3 mitochondrion              ``masks["mito_labels"]``,
                                                                               ``graph``
:func:`monocyte_cohort`   as :func:`cells`        as :func:`cells`             ``params["group"]``
========================  ======================  ===========================  =====================
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np

from .._core.options import check_positive
from ._base import (Phantom, as_rng, box_slices, check_fraction, check_range, check_shape,
                    check_shape_spacing, ellipsoid_q, jsonable, render_segment, rotation,
                    seed_of, smooth_noise, support)

log = logging.getLogger(__name__)

__all__ = ["nuclei", "golgi", "cells", "monocyte_cohort", "cohort_samples", "CohortSample",
           "FUSION_CONTROL", "FUSION_PATIENT"]


#: default voxel sizes (µm) of nuclei and Golgi phantoms, by number of dimensions
_NUC_SPACING = {2: (0.25, 0.25), 3: (1.0, 0.5, 0.5)}


def _default_shape(shape, ndim, two, three):
    if shape is not None:
        if ndim is not None and len(tuple(shape)) != ndim:
            raise ValueError(f"ndim={ndim} does not match shape {tuple(shape)}")
        return shape
    nd = 2 if ndim is None else ndim
    if nd not in (2, 3):
        raise ValueError(f"ndim must be 2 or 3; got {ndim!r}")
    return two if nd == 2 else three


# ----------------------------------------------------------------------------- placement


def _radial(axes, rot, u) -> float:
    """Distance from an ellipsoid's centre to its surface along unit vector ``u``."""
    body = rot.T @ u
    return float(1.0 / np.sqrt(np.sum((body / np.asarray(axes)) ** 2)))


def _draw_ellipsoid(ndim, rng, *, radius_um, radius_cv, aspect, flatten):
    r = radius_um * float(np.clip(1 + radius_cv * rng.standard_normal(), 0.5, 1.8))
    ratio = rng.uniform(*aspect)
    # keep the area/volume of a sphere of radius r: a * b = r^2 with b / a = ratio
    a = r / math.sqrt(ratio)
    b = r * math.sqrt(ratio)
    axes = (b, a) if ndim == 2 else (r * flatten, b, a)
    rot = rotation(ndim, rng.uniform(0, math.pi))
    return np.asarray(axes), rot


def _place(objects, axes, rot, *, extent, rng, mode, min_gap_um=0.0, z_center=None,
           max_tries=200):
    """Centre for a new ellipsoid: free (no contact), touching or overlapping a random
    earlier one.  Returns ``(centre, partner index or None)`` or ``(None, None)``."""
    ndim = len(extent)
    margin = 0.5 * np.asarray([support(axes, rot, e) for e in np.eye(ndim)])
    for _ in range(max_tries):
        partner = None
        if mode == "free" or not objects:
            c = rng.uniform(margin, np.asarray(extent) - margin)
        else:
            partner = int(rng.integers(len(objects)))
            pc, pa, pr = objects[partner]
            u = rng.standard_normal(ndim)
            if ndim == 3:
                u[0] = 0.0  # side by side in the imaging plane
            u /= np.linalg.norm(u)
            touch = _radial(axes, rot, -u) + _radial(pa, pr, u)
            factor = rng.uniform(0.97, 1.0) if mode == "touching" else rng.uniform(0.6, 0.85)
            c = pc + u * touch * factor
        if z_center is not None:
            c[0] = z_center + rng.uniform(-0.1, 0.1) * extent[0]
        if np.any(c < 0) or np.any(c > np.asarray(extent)):
            continue
        ok = True
        for k, (oc, oa, orr) in enumerate(objects):
            if k == partner:
                continue
            d = c - oc
            dist = float(np.linalg.norm(d))
            if dist == 0:
                ok = False
                break
            u = d / dist
            if dist < support(axes, rot, u) + support(oa, orr, u) + min_gap_um:
                ok = False
                break
        if ok:
            return c, partner
    return None, None


def _render_ellipsoids(shape, spacing, objects, *, rng, texture, texture_scale_um,
                       brightness):
    """Labels (nearest-centre rule in overlaps), overlap count and textured density."""
    labels = np.zeros(shape, dtype=np.int32)
    best = np.full(shape, np.inf, dtype=np.float32)
    count = np.zeros(shape, dtype=np.uint8)
    image = np.zeros(shape, dtype=np.float32)
    h = float(min(spacing))
    tex = None
    if texture > 0 and objects:
        tex = smooth_noise(shape, spacing=spacing, scale_um=texture_scale_um, rng=rng)
    for i, ((c, axes, rot), level) in enumerate(zip(objects, brightness), start=1):
        reach = np.asarray([support(axes, rot, e) for e in np.eye(len(shape))]) + 2 * h
        sl = box_slices(c - reach, c + reach, spacing, shape)
        if sl is None:
            continue
        q = ellipsoid_q(c, axes, rot, sl, spacing)
        rho = np.sqrt(q)
        inside = q <= 1.0
        closer = inside & (q < best[sl])
        labels[sl][closer] = i
        best[sl][closer] = q[closer]
        count[sl] += inside.astype(np.uint8)
        # anti-aliased edge: signed distance ~ (rho - 1) * smallest semi-axis
        alpha = np.clip(0.5 - (rho - 1.0) * float(min(axes)) / h, 0.0, 1.0)
        dens = alpha * level
        if tex is not None:
            dens = dens * np.clip(1.0 + texture * tex[sl], 0.05, None)
        image[sl] += dens.astype(np.float32)
    return labels, count, image


def _nuclei_objects(ndim, extent, *, n, radius_um, radius_cv, aspect, flatten, touching,
                    overlapping, min_gap_um, rng):
    objects, relations = [], {"touching": [], "overlapping": []}
    for i in range(n):
        axes, rot = _draw_ellipsoid(ndim, rng, radius_um=radius_um, radius_cv=radius_cv,
                                    aspect=aspect, flatten=flatten)
        u = rng.random()
        mode = ("touching" if u < touching else
                "overlapping" if u < touching + overlapping else "free")
        zc = extent[0] / 2 if ndim == 3 else None
        c, partner = _place(objects, axes, rot, extent=extent, rng=rng, mode=mode,
                            min_gap_um=min_gap_um, z_center=zc)
        if c is None and mode != "free":
            mode = "free"
            c, partner = _place(objects, axes, rot, extent=extent, rng=rng, mode="free",
                                min_gap_um=min_gap_um, z_center=zc)
        if c is None:
            log.info("no room for nucleus %d of %d; made %d", i + 1, n, len(objects))
            break
        objects.append((c, axes, rot))
        if partner is not None:
            relations[mode].append([partner + 1, len(objects)])
    return objects, relations


def _check_nuclei(shape, ndim, spacing, *, radius_um, radius_cv, aspect, flatten):
    """Checked ``(shape, spacing, aspect)`` of a field of nuclei (nuclei and Golgi
    phantoms), with the default shapes and voxel sizes filled in."""
    shape = _default_shape(shape, ndim, (256, 256), (32, 128, 128))
    shape, spacing = check_shape_spacing(shape, spacing, _NUC_SPACING[len(check_shape(shape))])
    check_positive("radius_um", radius_um)
    check_positive("radius_cv", radius_cv, allow_zero=True)
    aspect = check_range("aspect", aspect, low=1e-3, high=1.0)
    check_positive("flatten", flatten)
    return shape, spacing, aspect


def _nuclei_layout(shape, spacing, n_nuclei, *, cover, radius_um, radius_cv, aspect, flatten,
                   touching=0.0, overlapping=0.0, min_gap_um, rng):
    """Place nuclei in the field: ``n_nuclei`` of them, or (when None) as many discs of
    ``radius_um`` as cover ``cover`` of the y-x area.  Returns the field's extent (µm),
    the number asked for, and :func:`_nuclei_objects`' objects and relations."""
    extent = np.asarray(shape) * np.asarray(spacing)
    if n_nuclei is None:
        area = float(extent[-1] * extent[-2])
        n_nuclei = max(1, int(round(cover * area / (math.pi * radius_um ** 2))))
    n_nuclei = check_positive("n_nuclei", n_nuclei, integer=True)
    objects, relations = _nuclei_objects(len(shape), extent, n=n_nuclei, radius_um=radius_um,
                                         radius_cv=radius_cv, aspect=aspect, flatten=flatten,
                                         touching=touching, overlapping=overlapping,
                                         min_gap_um=min_gap_um, rng=rng)
    return extent, n_nuclei, objects, relations


def _objects_params(objects):
    out = []
    for c, axes, rot in objects:
        angle = math.atan2(-rot[-2, -1], rot[-1, -1])
        out.append({"center_um": c, "semi_axes_um": axes, "angle_rad": angle})
    return out


def nuclei(shape=None, *, n_nuclei: int | None = None, radius_um: float = 5.0,
           radius_cv: float = 0.15, aspect=(0.6, 1.0), flatten: float = 0.6,
           touching: float = 0.3, overlapping: float = 0.1, texture: float = 0.3,
           texture_scale_um: float = 0.8, brightness_cv: float = 0.2, spacing=None,
           ndim: int | None = None, rng=None) -> Phantom:
    """Textured ellipsoidal nuclei, some touching and some overlapping.

    Parameters
    ----------
    shape : tuple of int, optional
        Default ``(256, 256)`` (2D) or ``(32, 128, 128)`` (3D), chosen by ``ndim``.
    n_nuclei : int, optional
        Number asked for; default fills about 25 % of the field.  Fewer are made when
        no place is found (``params["n_made"]``).
    radius_um, radius_cv : float
        Mean equivalent radius (µm) and its coefficient of variation.
    aspect : (float, float)
        Range of minor/major axis ratios in the imaging plane (1 = round).
    flatten : float
        Ratio of the z semi-axis to the equivalent radius (3D; adherent nuclei are
        flat).
    touching, overlapping : float in [0, 1]
        Fractions of nuclei placed in contact with (centre distance 97–100 % of
        contact) or overlapping (60–85 %) an earlier nucleus.  The others keep
        clear of all nuclei.
    texture, texture_scale_um : float
        Relative amplitude and correlation length of the chromatin texture.
    brightness_cv : float
        Spread of the mean brightness between nuclei (mean 1).
    spacing : sequence of float, optional
        µm; default 0.25 (2D) or (1.0, 0.5, 0.5) (3D).
    rng : int or numpy.random.Generator, optional

    Returns
    -------
    Phantom
        ``labels`` one per nucleus (in overlaps the voxel goes to the nucleus whose
        normalised radius is smaller, so labels stay a partition); ``class_mask``
        1 = nucleus; ``masks["overlap"]`` voxels inside two or more nuclei;
        ``image`` densities add up in overlaps (as in a projection);
        ``params["nuclei"]`` centre/semi-axes per label and
        ``params["touching_pairs"]`` / ``params["overlapping_pairs"]`` label pairs.

    References
    ----------
    .. [1] Svoboda D, Kozubek M, Stejskal S (2009) Generation of digital phantoms
       of cell nuclei and simulation of image formation in 3D image cytometry.
       Cytometry A 75:494–509. doi:10.1002/cyto.a.20714

    Examples
    --------
    >>> ph = nuclei((96, 96), n_nuclei=4, rng=1)
    >>> ph.labels.max() <= 4 and ph.labels.dtype.name
    'int32'
    """
    shape, spacing, aspect = _check_nuclei(shape, ndim, spacing, radius_um=radius_um,
                                           radius_cv=radius_cv, aspect=aspect, flatten=flatten)
    touching = check_fraction("touching", touching)
    overlapping = check_fraction("overlapping", overlapping)
    if touching + overlapping > 1:
        raise ValueError(f"touching + overlapping must be <= 1; got {touching} + {overlapping}")
    check_positive("texture", texture, allow_zero=True)
    check_positive("texture_scale_um", texture_scale_um)
    check_positive("brightness_cv", brightness_cv, allow_zero=True)
    seed, rng = seed_of(rng), as_rng(rng)
    _, n_nuclei, objects, relations = _nuclei_layout(
        shape, spacing, n_nuclei, cover=0.25, radius_um=radius_um, radius_cv=radius_cv,
        aspect=aspect, flatten=flatten, touching=touching, overlapping=overlapping,
        min_gap_um=0.5, rng=rng)
    levels = np.clip(1 + brightness_cv * rng.standard_normal(len(objects)), 0.3, None)
    labels, count, image = _render_ellipsoids(shape, spacing, objects, rng=rng, texture=texture,
                                              texture_scale_um=texture_scale_um, brightness=levels)
    params = dict(kind="nuclei", shape=list(shape), spacing=list(spacing), seed=seed,
                  n_nuclei=n_nuclei, n_made=len(objects), radius_um=radius_um,
                  radius_cv=radius_cv, aspect=list(aspect), flatten=flatten, touching=touching,
                  overlapping=overlapping, texture=texture, texture_scale_um=texture_scale_um,
                  brightness_cv=brightness_cv, classes={"1": "nucleus"},
                  nuclei=[dict(label=i, brightness=float(lv), **p) for i, (p, lv) in
                          enumerate(zip(_objects_params(objects), levels), start=1)],
                  touching_pairs=relations["touching"],
                  overlapping_pairs=relations["overlapping"])
    return Phantom(image=image, labels=labels, class_mask=(labels > 0).astype(np.uint8),
                   spacing=tuple(spacing), params=jsonable(params),
                   masks={"overlap": count >= 2})


def golgi(shape=None, *, n_nuclei: int | None = None, radius_um: float = 4.5,
          radius_cv: float = 0.12, aspect=(0.65, 1.0), flatten: float = 0.6,
          n_puncta=(4, 10), punctum_radius_um=(0.35, 0.8), distance_um=(0.3, 1.5),
          spread_um: float = 1.2, golgi_brightness: float = 2.0, texture: float = 0.25,
          spacing=None, ndim: int | None = None, rng=None) -> Phantom:
    """Nuclei, each with a perinuclear Golgi made of puncta: nucleus–Golgi pairs.

    Each nucleus gets one Golgi on a random side: ``n_puncta`` spheres scattered
    (``spread_um``, mostly along the nuclear surface) around a point ``distance_um``
    outside the nuclear envelope.  Nuclei keep clear of each other by 6 µm so that
    every Golgi is nearest to its own nucleus.

    Parameters
    ----------
    shape : tuple of int, optional
        Default ``(256, 256)`` (2D) or ``(32, 128, 128)`` (3D), chosen by ``ndim``.
    n_nuclei : int, optional
        Pairs asked for; default fills ~15 % of the field with nuclei.
    radius_um, radius_cv, aspect, flatten
        Nuclear shape, as in :func:`nuclei`.
    n_puncta : (int, int)
        Range (inclusive) of puncta per Golgi.
    punctum_radius_um : (float, float)
        Range of punctum radii.
    distance_um : (float, float)
        Range of the gap between nuclear envelope and Golgi centre.
    spread_um : float
        Scatter of puncta around the Golgi centre (tangential; a third of it radial).
    golgi_brightness : float
        Density of the puncta relative to the mean nucleus (1).
    texture : float
        Chromatin texture amplitude.
    spacing, rng
        As in :func:`nuclei`.

    Returns
    -------
    Phantom
        ``labels`` nucleus k = k, its Golgi = n + k (n = ``params["n_made"]``);
        ``class_mask`` 1 nucleus, 2 Golgi; ``masks["pair_ids"]`` k on both members
        of pair k; ``masks["puncta_labels"]`` one label per punctum;
        ``channels`` ``"nucleus"`` and ``"golgi"`` (``image`` is their sum);
        ``params["pairs"]`` per pair: labels, centres (µm) and distance.

    References
    ----------
    .. [1] Dupin I, Etienne-Manneville S (2011) Nuclear positioning: mechanisms
       and functions. Int J Biochem Cell Biol 43:1698–1707.
       doi:10.1016/j.biocel.2011.09.004

    Examples
    --------
    >>> ph = golgi((128, 128), n_nuclei=2, rng=0)
    >>> np.unique(ph.class_mask).tolist()
    [0, 1, 2]
    """
    shape, spacing, aspect = _check_nuclei(shape, ndim, spacing, radius_um=radius_um,
                                           radius_cv=radius_cv, aspect=aspect, flatten=flatten)
    lo_n, hi_n = check_range("n_puncta", n_puncta, low=1)
    if int(lo_n) != lo_n or int(hi_n) != hi_n:
        raise TypeError(f"n_puncta must be a pair of integers; got {n_puncta!r}")
    pr_range = check_range("punctum_radius_um", punctum_radius_um, low=1e-6)
    d_range = check_range("distance_um", distance_um)
    check_positive("spread_um", spread_um, allow_zero=True)
    check_positive("golgi_brightness", golgi_brightness)
    seed, rng = seed_of(rng), as_rng(rng)
    nd = len(shape)
    # nuclei 6 µm apart, so that every Golgi is nearest to its own nucleus
    extent, n_nuclei, objects, _ = _nuclei_layout(
        shape, spacing, n_nuclei, cover=0.15, radius_um=radius_um, radius_cv=radius_cv,
        aspect=aspect, flatten=flatten, min_gap_um=6.0, rng=rng)
    n = len(objects)
    levels = np.clip(1 + 0.2 * rng.standard_normal(n), 0.3, None)
    nuc_labels, _, nuc_image = _render_ellipsoids(shape, spacing, objects, rng=rng,
                                                  texture=texture, texture_scale_um=0.8,
                                                  brightness=levels)
    field = np.full(shape, np.inf, dtype=np.float32)
    pair_of = np.zeros(shape, dtype=np.int32)
    punct = np.zeros(shape, dtype=np.int32)
    field_p = np.full(shape, np.inf, dtype=np.float32)
    pairs, n_punct = [], 0
    for k, (c, axes, rot) in enumerate(objects, start=1):
        for _ in range(50):  # a side of the nucleus where the Golgi lies in the field
            u = rng.standard_normal(nd)
            if nd == 3:
                u[0] = 0.0
            u /= np.linalg.norm(u)
            anchor = c + u * (_radial(axes, rot, u) + rng.uniform(*d_range))
            inner = slice(-2, None)
            if (np.all(anchor[inner] > spread_um)
                    and np.all(anchor[inner] < extent[inner] - spread_um)):
                break
        tangent = np.zeros(nd)
        tangent[-2:] = (-u[-1], u[-2])
        m = int(rng.integers(int(lo_n), int(hi_n) + 1))
        centres = []
        for _ in range(m):
            pr = rng.uniform(*pr_range)
            p = (anchor + tangent * rng.normal(0, spread_um)
                 + u * rng.normal(0, spread_um / 3))
            if nd == 3:
                p[0] += rng.normal(0, min(spread_um, axes[0] / 2))
            # keep the punctum outside its nucleus
            d = p - c
            rho = float(np.sqrt(np.sum(((rot.T @ d) / axes) ** 2)))
            need = 1.0 + (pr + 0.2) / float(min(axes))
            if rho < need:
                p = c + d * (need / max(rho, 1e-6))
            n_punct += 1
            render_segment(field, pair_of, p, p, pr, k, spacing)
            render_segment(field_p, punct, p, p, pr, n_punct, spacing)
            centres.append(p)
        gc = np.mean(centres, axis=0)
        pairs.append({"pair_id": k, "nucleus_label": k, "golgi_label": n + k,
                      "nucleus_center_um": c, "golgi_center_um": gc,
                      "distance_um": float(np.linalg.norm(gc - c)), "n_puncta": m})
    nucleus = nuc_labels > 0
    golgi_mask = (field <= 0) & ~nucleus
    h = float(min(spacing))
    golgi_image = (np.clip(0.5 - field / h, 0, 1) * golgi_brightness).astype(np.float32)
    golgi_image[nucleus] = 0
    labels = nuc_labels.copy()
    labels[golgi_mask] = n + pair_of[golgi_mask]
    class_mask = nucleus.astype(np.uint8)
    class_mask[golgi_mask] = 2
    pair_ids = np.where(nucleus, nuc_labels, 0)
    pair_ids[golgi_mask] = pair_of[golgi_mask]
    params = dict(kind="golgi", shape=list(shape), spacing=list(spacing), seed=seed,
                  n_nuclei=n_nuclei, n_made=n, radius_um=radius_um, radius_cv=radius_cv,
                  aspect=list(aspect), flatten=flatten, n_puncta=[int(lo_n), int(hi_n)],
                  punctum_radius_um=list(pr_range), distance_um=list(d_range),
                  spread_um=spread_um, golgi_brightness=golgi_brightness, texture=texture,
                  classes={"1": "nucleus", "2": "golgi"}, pairs=pairs)
    return Phantom(image=nuc_image + golgi_image, labels=labels.astype(np.int32),
                   class_mask=class_mask, spacing=tuple(spacing), params=jsonable(params),
                   masks={"pair_ids": pair_ids.astype(np.int32),
                          "puncta_labels": np.where(golgi_mask, punct, 0).astype(np.int32)},
                   channels={"nucleus": nuc_image, "golgi": golgi_image})


def cells(shape=None, *, n_cells: int = 1, cell_radius_um: float = 6.0,
          radius_cv: float = 0.08, nucleus_fraction: float = 0.55, flatten: float = 0.7,
          phenotype: str | None = "intermediate", fusion: float | None = None,
          n_components: int | None = None, branch_length_um: float | None = None,
          branching: float | None = None, max_branches: int | None = None,
          tube_radius_um: float | None = None, tortuosity: float | None = None,
          cytoplasm_level: float = 0.05, spacing=None, ndim: int | None = None,
          rng=None) -> Phantom:
    """Monocyte-like cells: round cell, kidney-shaped nucleus, mitochondrial network.

    Parameters
    ----------
    shape : tuple of int, optional
        Default ``(160, 160)`` (2D) or ``(56, 160, 160)`` (3D) per cell, tiled in a
        square grid for ``n_cells > 1``.
    n_cells : int
        Number of cells (kept apart, none touching the border).
    cell_radius_um, radius_cv : float
        Cell radius (µm; monocytes are 12–20 µm across) and its spread (clipped to
        ±25 %).
    nucleus_fraction : float
        Nuclear equivalent radius as a fraction of the cell radius.
    flatten : float
        z semi-axis over radius for cell and nucleus (3D).
    phenotype, fusion, n_components, branch_length_um, branching, max_branches, \
    tube_radius_um, tortuosity
        Mitochondrial network per cell, as in
        :func:`fijibridge.synth.networks.mitochondria`; ``n_components`` is per
        cell (default scales with the cytoplasm size, at twice the density of
        :func:`~fijibridge.synth.networks.mitochondria`).
    cytoplasm_level : float
        Faint diffuse density of the cytoplasm in ``image`` (shows the cell outline).
    spacing : sequence of float, optional
        µm; default 0.1 in y, x and 0.2 in z.
    rng : int or numpy.random.Generator, optional

    Returns
    -------
    Phantom
        ``image`` mitochondrial channel (+ ``cytoplasm_level`` in the cell);
        ``channels["nucleus"]`` the nuclear stain; ``labels`` one per cell;
        ``class_mask`` 1 cytoplasm, 2 nucleus, 3 mitochondrion;
        ``masks["nucleus_labels"]`` (nucleus of cell k = k), ``masks["mito_labels"]``
        (one per network piece = graph node attribute ``component``);
        ``graph`` the ground-truth network (nodes also carry ``cell``);
        ``params["cells"]`` per cell: centre, radius, nucleus, network summary.

    References
    ----------
    .. [1] Westrate LM et al. (2014) PLoS ONE 9:e95265. doi:10.1371/journal.pone.0095265

    Examples
    --------
    >>> ph = cells(phenotype="fused", rng=0)
    >>> int(ph.labels.max()), ph.graph.number_of_nodes() > 0
    (1, True)
    """
    import networkx as nx

    from .networks import _erode_region, _resolve_params, _tube_image, graph_summary, grow_network

    n_cells = check_positive("n_cells", n_cells, integer=True)
    tile = int(math.ceil(math.sqrt(n_cells)))
    two = (160 * tile, 160 * tile)
    three = (56, 160 * tile, 160 * tile)
    shape = _default_shape(shape, ndim, two, three)
    shape, spacing = check_shape_spacing(shape, spacing, (0.2, 0.1, 0.1))
    check_positive("cell_radius_um", cell_radius_um)
    check_positive("radius_cv", radius_cv, allow_zero=True)
    nucleus_fraction = check_fraction("nucleus_fraction", nucleus_fraction)
    check_positive("flatten", flatten)
    check_positive("cytoplasm_level", cytoplasm_level, allow_zero=True)
    nd = len(shape)
    mp = _resolve_params(phenotype=phenotype, fusion=fusion, spacing=spacing, ndim=nd,
                         region_size=None, n_components=n_components,
                         branch_length_um=branch_length_um, branching=branching,
                         max_branches=max_branches, tube_radius_um=tube_radius_um,
                         tortuosity=tortuosity)
    seed = seed_of(rng)
    rng = as_rng(rng)
    extent = np.asarray(shape) * np.asarray(spacing)
    sp = np.asarray(spacing)

    # cells: spheres/discs kept 1 µm apart and inside the field
    objects = []
    for i in range(n_cells):
        r = cell_radius_um * float(np.clip(1 + radius_cv * rng.standard_normal(), 0.75, 1.25))
        axes = np.full(nd, r)
        if nd == 3:
            axes[0] = r * flatten
        if np.any(2 * axes + 0.5 > extent):
            raise ValueError(f"a cell of radius {r:.1f} µm does not fit the field "
                             f"{tuple(round(float(e), 1) for e in extent)} µm; use a larger "
                             "shape or "
                             "smaller cell_radius_um")
        rot = np.eye(nd)
        c = None
        for _ in range(300):
            cand = rng.uniform(axes + 0.25, extent - axes - 0.25)
            if nd == 3:
                cand[0] = extent[0] / 2
            if all(np.linalg.norm(cand - oc) > r + oa[-1] + 1.0 for oc, oa, _ in objects):
                c = cand
                break
        if c is None:
            log.info("no room for cell %d of %d", i + 1, n_cells)
            break
        objects.append((c, axes, rot))
    cell_labels = np.zeros(shape, dtype=np.int32)
    nuc_labels = np.zeros(shape, dtype=np.int32)
    nuc_image = np.zeros(shape, dtype=np.float32)
    tex = smooth_noise(shape, spacing=spacing, scale_um=0.6, rng=rng)
    h = float(min(spacing))
    field = np.full(shape, np.inf, dtype=np.float32)
    mito_labels = np.zeros(shape, dtype=np.int32)
    keepout = np.zeros(shape, dtype=np.int32)
    graph = nx.Graph()
    per_cell = []
    for k, (c, axes, rot) in enumerate(objects, start=1):
        sl = box_slices(c - axes - 2 * h, c + axes + 2 * h, spacing, shape)
        q = ellipsoid_q(c, axes, rot, sl, spacing)
        cell = q <= 1.0
        cell_labels[sl][cell] = k
        # kidney-shaped nucleus off-centre, indented towards the cell centre
        r = float(axes[-1])
        rn = nucleus_fraction * r
        u = rng.standard_normal(nd)
        if nd == 3:
            u[0] = 0.0
        u /= np.linalg.norm(u)
        nc = c + u * rng.uniform(0.1, 0.2) * r
        ratio = rng.uniform(0.7, 0.9)
        n_axes = [rn * ratio, rn / math.sqrt(ratio) * 1.05]  # along u, across u
        angle = math.atan2(u[-1], u[-2])
        n_rot = rotation(nd, angle)
        n_axes = np.asarray(n_axes if nd == 2 else [rn * flatten] + n_axes)
        qn = ellipsoid_q(nc, n_axes, n_rot, sl, spacing)
        notch_c = nc - u * n_axes[-2] * 1.15
        coords = np.meshgrid(*[np.arange(s.start, s.stop) * d for s, d in zip(sl, sp)],
                             indexing="ij", sparse=True)
        dn = np.sqrt(sum((x - x0) ** 2 for x, x0 in zip(coords, notch_c)))
        nucleus = (qn <= 1.0) & (dn > 0.6 * n_axes[-2]) & cell
        nuc_labels[sl][nucleus] = k
        alpha = np.clip(0.5 - (np.sqrt(qn) - 1.0) * float(min(n_axes)) / h, 0, 1)
        alpha = np.where(dn > 0.6 * n_axes[-2], alpha, 0.0)
        nuc_image[sl] += (alpha * np.clip(1 + 0.3 * tex[sl], 0.05, None)).astype(np.float32)
        # mitochondria in the cytoplasm, away from membrane and nuclear envelope
        cyto = np.zeros(shape, dtype=bool)
        cyto[sl] = cell & ~nucleus
        region = _erode_region(cyto, spacing, mp["tube_radius_um"] * 1.3 + 0.1)
        size = float(region.sum()) * float(np.prod(sp))
        if size <= 0:
            raise ValueError("no cytoplasm left for mitochondria; lower nucleus_fraction or "
                             "tube_radius_um")
        from .networks import mito_params

        # cells are packed twice as densely as the mitochondria() default
        n_comp = mp["n_components"] if n_components is not None else mito_params(
            fusion=mp["fusion"], region_size=2 * size, ndim=nd)["n_components"]
        g, field, mito_labels, keepout = grow_network(
            region, spacing=spacing, n_components=n_comp,
            branch_length_um=mp["branch_length_um"], branching=mp["branching"],
            max_branches=mp["max_branches"], tube_radius_um=mp["tube_radius_um"],
            tortuosity=mp["tortuosity"], label_offset=int(mito_labels.max()),
            keepout=keepout, field=field, labels=mito_labels, rng=rng)
        offset = graph.number_of_nodes() and max(graph.nodes) + 1
        g = nx.relabel_nodes(g, {m: m + offset for m in g.nodes})
        for m in g.nodes:
            g.nodes[m]["cell"] = k
        graph.update(g)
        per_cell.append({"label": k, "center_um": c, "semi_axes_um": axes,
                         "nucleus_center_um": nc, "nucleus_semi_axes_um": n_axes,
                         "mito_region_size": size, "n_components": n_comp,
                         **graph_summary(g)})
    graph.graph.update(spacing=tuple(spacing), ndim=nd, units="um", fusion=mp["fusion"],
                       phenotype=mp.get("phenotype") or "")
    mito_image, mito_mask, mito_labels = _tube_image(field, mito_labels, spacing, graph, rng)
    image = mito_image + cytoplasm_level * (cell_labels > 0)
    class_mask = (cell_labels > 0).astype(np.uint8)
    class_mask[nuc_labels > 0] = 2
    class_mask[mito_mask] = 3
    params = dict(kind="cells", shape=list(shape), spacing=list(spacing), seed=seed,
                  n_cells=n_cells, n_made=len(objects), cell_radius_um=cell_radius_um,
                  radius_cv=radius_cv, nucleus_fraction=nucleus_fraction, flatten=flatten,
                  cytoplasm_level=cytoplasm_level, mito=mp,
                  classes={"1": "cytoplasm", "2": "nucleus", "3": "mitochondrion"},
                  cells=per_cell, **graph_summary(graph))
    return Phantom(image=image.astype(np.float32), labels=cell_labels, class_mask=class_mask,
                   spacing=tuple(spacing), params=jsonable(params), graph=graph,
                   masks={"nucleus_labels": nuc_labels, "mito_labels": mito_labels},
                   channels={"nucleus": nuc_image})


def _beta_params(name, value):
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair (a, b) of Beta parameters; got {value!r}") from None
    if not (a > 0 and b > 0 and np.isfinite(a) and np.isfinite(b)):
        raise ValueError(f"{name} Beta parameters must be finite and > 0; got {value!r}")
    return a, b


#: Beta ``(a, b)`` of the degree of fusion of control and patient samples (means 0.73
#: and 0.27: the groups overlap, as real cohorts do)
FUSION_CONTROL = (8.0, 3.0)
FUSION_PATIENT = (3.0, 8.0)


@dataclasses.dataclass(frozen=True)
class CohortSample:
    """One sample of a synthetic cohort: its index, group, degree of fusion and the
    generator (already past the fusion draw) that renders it."""

    index: int
    group: str
    fusion: float
    rng: np.random.Generator


def cohort_samples(*, n_control: int, n_patient: int, fusion_control=FUSION_CONTROL,
                   fusion_patient=FUSION_PATIENT, rng=None):
    """The samples of a control vs patient cohort, without rendering any image.

    The one cohort sampler: :func:`monocyte_cohort` and the pipeline's ``synth`` step
    (``kind: cohort``) both draw from it.  Sample ``i`` gets its own child seed
    (:class:`numpy.random.SeedSequence` spawn of ``rng`` when ``rng`` is an int), so it
    is the same whatever the others are; its fusion is drawn from
    ``Beta(*fusion_control)`` (controls, first) or ``Beta(*fusion_patient)``.

    Returns
    -------
    list of CohortSample
    """
    n_control = check_positive("n_control", n_control, integer=True, allow_zero=True)
    n_patient = check_positive("n_patient", n_patient, integer=True, allow_zero=True)
    ac, bc = _beta_params("fusion_control", fusion_control)
    ap, bp = _beta_params("fusion_patient", fusion_patient)
    seed = seed_of(rng)
    if isinstance(rng, np.random.Generator):
        ss = np.random.SeedSequence(int(rng.integers(2 ** 63)))
    elif rng is None:
        ss = np.random.SeedSequence()
    else:
        ss = np.random.SeedSequence(int(as_rng(rng).integers(2 ** 63)) if seed is None else seed)
    out = []
    for i, child in enumerate(ss.spawn(n_control + n_patient)):
        g = np.random.default_rng(child)
        group = "control" if i < n_control else "patient"
        a, b = (ac, bc) if group == "control" else (ap, bp)
        out.append(CohortSample(i, group, float(g.beta(a, b)), g))
    return out


def monocyte_cohort(*, n_control: int, n_patient: int, fusion_control=FUSION_CONTROL,
                    fusion_patient=FUSION_PATIENT, rng=None, **cell_kwargs):
    """A synthetic cohort: control monocytes with fused networks, patients' fragmented.

    The degree of fusion of each sample is drawn from a Beta distribution per group
    (defaults :data:`FUSION_CONTROL` Beta(8, 3), mean 0.73; :data:`FUSION_PATIENT`
    Beta(3, 8), mean 0.27, so the groups overlap, as real cohorts do; drawn by
    :func:`cohort_samples`); all network parameters follow from it
    (:func:`fijibridge.synth.networks.mito_params`).

    Parameters
    ----------
    n_control, n_patient : int
        Samples per group (controls first, then patients).
    fusion_control, fusion_patient : (float, float)
        Beta distribution parameters ``(a, b)`` of the fusion of each group.
    rng : int or numpy.random.Generator, optional
        Each sample gets its own child seed (:class:`numpy.random.SeedSequence`
        spawn), so sample ``i`` is the same whatever the others are.
    **cell_kwargs
        Passed to :func:`cells` (``shape``, ``ndim``, ``n_cells``, ``spacing`` …; not
        ``phenotype``/``fusion``).

    Yields
    ------
    Phantom
        As :func:`cells`, with ``params["group"]`` (``"control"``/``"patient"``),
        ``params["fusion"]`` and ``params["sample"]`` (index in the cohort).

    Examples
    --------
    >>> cohort = list(monocyte_cohort(n_control=1, n_patient=1, rng=0))
    >>> [p.params["group"] for p in cohort]
    ['control', 'patient']
    """
    for key in ("phenotype", "fusion"):
        if key in cell_kwargs:
            raise TypeError(f"monocyte_cohort sets {key!r} itself; remove it from the "
                            "keyword arguments (set fusion_control / fusion_patient instead)")
    seed = seed_of(rng)
    for s in cohort_samples(n_control=n_control, n_patient=n_patient,
                            fusion_control=fusion_control, fusion_patient=fusion_patient,
                            rng=rng):
        ph = cells(fusion=s.fusion, phenotype=None, rng=s.rng, **cell_kwargs)
        ph.params.update(group=s.group, fusion=s.fusion, sample=s.index, cohort_seed=seed)
        yield ph
