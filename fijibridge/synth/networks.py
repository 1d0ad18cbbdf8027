"""Mitochondrial networks: tubes grown along random graphs, with their ground truth.

A network is a forest of trees grown by a persistent random walk that branches with
a given probability.  The ground-truth graph is returned with the masks: its nodes
are the end points and branch points (no node of degree 2), its edges carry the
centre line and its length.  Phenotypes span *fused* (few, long, branched networks)
through *intermediate* to *fragmented* (many short, punctate pieces); one number,
``fusion`` in [0, 1], interpolates between them, which gives cohorts with
overlapping parameter distributions (see :func:`mito_params`).

Ground-truth graph (``networkx.Graph``)
---------------------------------------
graph attributes
    ``spacing`` (µm, tuple), ``ndim``, ``units = "um"``, ``phenotype`` / ``fusion``.
node attributes
    ``pos`` : tuple of float, position in µm, (z, y, x) or (y, x), same frame as the
    image (voxel ``i`` has its centre at ``i * spacing``);
    ``kind`` : ``"end"`` (degree 1) or ``"junction"`` (degree >= 3);
    ``component`` : the instance label of the network piece in ``Phantom.labels``.
edge attributes
    ``length_um`` : length of the centre line (sum of its straight pieces);
    ``radius_um`` : tube radius;
    ``path_um`` : ndarray ``(k, ndim)``, the centre line from one node to the other,
    both included (its first row is the ``pos`` of the node with the smaller id).

The graph is a forest: fused networks here branch but do not close loops, and tubes
of different pieces keep a gap of at least ``gap_um`` so that the mask's connected
components match the graph's components (two tubes of one piece may touch near the
branch point they share).  :func:`graph_to_graphml` writes it with plain attributes.
"""

from __future__ import annotations

import json
import logging
import math

import numpy as np

from .._core.options import check_choice, check_positive
from ._base import (Phantom, as_rng, check_fraction, check_shape_spacing, jsonable,
                    render_segment, seed_of)

log = logging.getLogger(__name__)

__all__ = ["PHENOTYPES", "mito_params", "mitochondria", "grow_network", "graph_length",
           "graph_to_graphml", "graph_from_graphml"]

#: Named phenotypes and the ``fusion`` value each stands for.
PHENOTYPES = {"fragmented": 0.0, "intermediate": 0.5, "fused": 1.0}

#: Reference region size for the default component count: 100 µm² (2D), 400 µm³ (3D).
_REF_SIZE = {2: 100.0, 3: 400.0}

_DEFAULT_SPACING = (0.2, 0.1, 0.1)


def mito_params(*, phenotype: str | None = None, fusion: float | None = None,
                region_size: float | None = None, ndim: int = 2) -> dict:
    """Network parameters of a phenotype, or of a point on the fragmented–fused axis.

    Parameters
    ----------
    phenotype : {'fused', 'intermediate', 'fragmented'}, optional
        Named phenotype (``fusion`` 1, 0.5 and 0).
    fusion : float in [0, 1], optional
        Degree of fusion; overrides ``phenotype``.  Parameters are interpolated
        linearly (``branch_length_um``, ``branching``, ``tube_radius_um``,
        ``tortuosity``) or geometrically (``n_components``, ``max_branches``)
        between fragmented (0) and fused (1).
    region_size : float, optional
        Area (µm², 2D) or volume (µm³, 3D) available to the network; the component
        count scales with it (reference 100 µm² / 400 µm³).  Default: the reference.
    ndim : {2, 3}

    Returns
    -------
    dict
        ``n_components`` (number of separate pieces asked for), ``branch_length_um``
        (mean length between branch points), ``branching`` (probability that a
        branch ends in a Y junction), ``max_branches`` (per piece),
        ``tube_radius_um``, ``tortuosity`` (direction noise per √µm) and ``fusion``.

    Examples
    --------
    >>> mito_params(phenotype="fused")["max_branches"]
    24
    >>> mito_params(fusion=0.0)["max_branches"]
    1
    """
    if fusion is None:
        phenotype = check_choice("phenotype", phenotype or "intermediate", list(PHENOTYPES))
        fusion = PHENOTYPES[phenotype]
    fusion = check_fraction("fusion", fusion)
    if ndim not in (2, 3):
        raise ValueError(f"ndim must be 2 or 3; got {ndim!r}")
    size = _REF_SIZE[ndim] if region_size is None else check_positive("region_size", region_size)
    f = fusion

    def lin(a, b):
        return a + (b - a) * f

    def geo(a, b):
        return math.exp(math.log(a) + (math.log(b) - math.log(a)) * f)

    n = geo(40.0, 4.0) * size / _REF_SIZE[ndim]
    return {
        "fusion": f,
        "n_components": max(1, int(round(n))),
        "branch_length_um": lin(0.5, 2.0),
        "branching": lin(0.02, 0.6),
        "max_branches": max(1, int(round(geo(1.0, 24.0)))),
        "tube_radius_um": lin(0.2, 0.15),
        "tortuosity": lin(0.4, 0.6),
    }


def _unit(v):
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def _random_direction(ndim, rng, planar_bias=0.0):
    v = rng.standard_normal(ndim)
    if ndim == 3 and planar_bias:
        v[0] *= 1.0 - planar_bias
    return _unit(v)


def _fork(direction, rng):
    """Two unit vectors 35–65° off ``direction``, on opposite sides of a random plane."""
    ndim = direction.size
    while True:
        w = rng.standard_normal(ndim)
        w -= (w @ direction) * direction
        if np.linalg.norm(w) > 1e-6:
            break
    w = _unit(w)
    out = []
    for sign in (1.0, -1.0):
        angle = rng.uniform(math.radians(35), math.radians(65))
        out.append(_unit(np.cos(angle) * direction + sign * np.sin(angle) * w))
    return out


def grow_network(region, *, spacing, n_components, branch_length_um, branching,
                 max_branches, tube_radius_um, tortuosity, step_um=0.2, gap_um=0.2,
                 radius_cv=0.1, label_offset=0, keepout=None, field=None, labels=None,
                 rng=None):
    """Grow mitochondrial trees inside ``region`` and render them.

    Low-level generator behind :func:`mitochondria` and the cell phantoms; most users
    want those.  ``field`` (float32, signed distance to the tube surfaces, µm),
    ``labels`` (int32, nearest piece) and ``keepout`` (int32: the piece whose halo
    covers a voxel, where no other piece's centre line may pass) are updated in
    place when given, so several calls (one per cell) can draw into one image.

    Returns
    -------
    graph : networkx.Graph
        See the module docstring; components are labelled ``label_offset + 1, …``.
    field, labels, keepout : ndarray
    """
    import networkx as nx

    rng = as_rng(rng)
    region = np.asarray(region, dtype=bool)
    shape = region.shape
    ndim = region.ndim
    spacing = np.asarray(spacing, dtype=np.float64)
    if field is None:
        field = np.full(shape, np.inf, dtype=np.float32)
    if labels is None:
        labels = np.zeros(shape, dtype=np.int32)
    if keepout is None:
        keepout = np.zeros(shape, dtype=np.int32)
    keep_field = np.full(shape, np.inf, dtype=np.float32)
    graph = nx.Graph()
    free = np.flatnonzero(region)
    if free.size == 0:
        raise ValueError("region has no voxel where a mitochondrion fits (all background); "
                         "use a larger region or a thinner tube_radius_um")
    r_max = tube_radius_um * (1 + 3 * radius_cv)
    halo = tube_radius_um + r_max + gap_um  # keep-out radius around a finished edge
    step_um = min(step_um, branch_length_um / 2)
    shape_arr = np.asarray(shape)

    def allowed(p, own=0):
        # inside the region and outside the halo of every piece but ``own``
        idx = np.rint(p / spacing).astype(int)
        if np.any(idx < 0) or np.any(idx >= shape_arr):
            return False
        idx = tuple(idx)
        k = keepout[idx]
        return bool(region[idx]) and (k == 0 or k == own)

    next_node = len(graph)
    made = 0
    attempts = 0
    while made < n_components and attempts < 5 * n_components + 20:
        attempts += 1
        label = label_offset + made + 1
        start = None
        for _ in range(50):
            idx = np.unravel_index(free[rng.integers(free.size)], shape)
            p = (np.asarray(idx) + rng.uniform(-0.45, 0.45, ndim)) * spacing
            if allowed(p):
                start = p
                break
        if start is None:
            log.info("no room left for network piece %d of %d; stopping", made + 1, n_components)
            break
        root = next_node
        next_node += 1
        graph.add_node(root, pos=tuple(start), component=label)
        tips = [(root, _random_direction(ndim, rng, planar_bias=0.5))]
        n_edges = 0
        while tips and n_edges < max_branches:
            node, direction = tips.pop(0)
            p = np.asarray(graph.nodes[node]["pos"])
            target = rng.gamma(4.0, branch_length_um / 4.0)
            spread = np.clip(1 + radius_cv * rng.standard_normal(), 0.7, 1.3)
            radius = float(tube_radius_um * spread)
            path = [p]
            travelled = 0.0
            d = direction
            ignore = halo + step_um  # near the start node the parent's halo is allowed
            while travelled < target:
                d = _unit(d + tortuosity * math.sqrt(step_um) * rng.standard_normal(ndim))
                q = path[-1] + step_um * d
                if not allowed(q, own=label if travelled + step_um <= ignore else 0):
                    break
                path.append(q)
                travelled += step_um
            if len(path) < 2:
                continue
            path = np.asarray(path)
            end = next_node
            next_node += 1
            graph.add_node(end, pos=tuple(path[-1]), component=label)
            seg = np.diff(path, axis=0)
            length = float(np.sqrt((seg ** 2).sum(axis=1)).sum())
            graph.add_edge(node, end, length_um=length, radius_um=radius,
                           path_um=path if node < end else path[::-1].copy())
            n_edges += 1
            for a, b in zip(path[:-1], path[1:]):
                render_segment(field, labels, a, b, radius, label, spacing)
            if travelled >= target and rng.random() < branching:
                for child in _fork(d, rng):
                    tips.append((end, child))
            # the halo of the new edge applies to all later edges (its children start
            # inside it and ignore it for their first ``ignore`` µm)
            for a, b in zip(path[:-1], path[1:]):
                render_segment(keep_field, None, a, b, halo, 0, spacing,
                               reach=halo + max(spacing))
            lo = np.maximum(np.floor((path.min(axis=0) - halo) / spacing).astype(int) - 1, 0)
            hi = np.ceil((path.max(axis=0) + halo) / spacing).astype(int) + 2
            box = tuple(slice(a, b) for a, b in zip(lo, hi))
            sub = keepout[box]
            sub[(keep_field[box] <= 0) & (sub == 0)] = label
        if graph.degree(root) == 0:
            graph.remove_node(root)
            continue
        made += 1
    _merge_degree_two(graph)
    for n, deg in graph.degree():
        graph.nodes[n]["kind"] = "end" if deg <= 1 else "junction"
    graph.graph.update(spacing=tuple(float(s) for s in spacing), ndim=ndim, units="um")
    return graph, field, labels, keepout


def _merge_degree_two(graph):
    """Replace every node of degree 2 by one edge joining its neighbours."""
    for n in [n for n, d in graph.degree() if d == 2]:
        if graph.degree(n) != 2:
            continue
        (a, ea), (b, eb) = [(m, graph.edges[n, m]) for m in graph.neighbors(n)]
        if a == b:
            continue
        pa = _oriented(ea["path_um"], graph.nodes[a]["pos"])      # a -> n
        pb = _oriented(eb["path_um"], graph.nodes[n]["pos"])      # n -> b
        path = np.concatenate([pa, pb[1:]])
        seg = np.diff(path, axis=0)
        length = float(np.sqrt((seg ** 2).sum(axis=1)).sum())
        radius = (ea["radius_um"] * ea["length_um"] + eb["radius_um"] * eb["length_um"]) / max(
            ea["length_um"] + eb["length_um"], 1e-12)
        graph.remove_node(n)
        if graph.has_edge(a, b):  # would close a loop of two edges: keep the nodes apart
            continue
        graph.add_edge(a, b, length_um=length, radius_um=radius,
                       path_um=path if a < b else path[::-1].copy())


def _oriented(path, start_pos):
    path = np.asarray(path)
    if np.allclose(path[0], start_pos):
        return path
    return path[::-1]


def graph_length(graph) -> float:
    """Total centre-line length (µm) of a ground-truth graph."""
    return float(sum(d["length_um"] for _, _, d in graph.edges(data=True)))


def mitochondria(shape=None, *, phenotype: str | None = "intermediate",
                 fusion: float | None = None, n_components: int | None = None,
                 branch_length_um: float | None = None, branching: float | None = None,
                 max_branches: int | None = None, tube_radius_um: float | None = None,
                 tortuosity: float | None = None, gap_um: float = 0.2, region=None,
                 spacing=None, ndim: int | None = None, rng=None) -> Phantom:
    """A field of mitochondrial networks with their ground-truth graph.

    Parameters
    ----------
    shape : tuple of int, optional
        ``(y, x)`` or ``(z, y, x)``.  Default ``(256, 256)`` in 2D, ``(32, 128, 128)``
        in 3D (``ndim`` chooses when ``shape`` is not given).
    phenotype : {'fused', 'intermediate', 'fragmented'}
        Preset parameters (see :func:`mito_params`); any parameter given explicitly
        overrides its preset.
    fusion : float in [0, 1], optional
        Continuous alternative to ``phenotype`` (0 fragmented, 1 fused).
    n_components : int, optional
        Number of separate network pieces asked for (fewer are made when the region
        is full; ``params["n_components_made"]`` says how many).
    branch_length_um : float, optional
        Mean length of a branch between branch/end points (gamma distributed,
        shape 4).
    branching : float in [0, 1], optional
        Probability that a branch that reached its length ends in a Y junction.
    max_branches : int, optional
        Maximum number of branches (edges) per piece.
    tube_radius_um : float, optional
        Mean tube radius (10 % spread per branch).  It is raised to half a voxel
        diagonal when smaller, so that the mask always covers the centre line
        (a warning is logged).
    tortuosity : float, optional
        Random change of direction per √µm of growth.
    gap_um : float
        Minimum gap between tubes of different pieces (and between non-adjacent
        branches of one piece).
    region : ndarray of bool, optional
        Where centre lines may run (same shape); default the whole image minus a
        margin of one tube radius.  It is eroded by the tube radius.
    spacing : sequence of float, optional
        Voxel size in µm; default 0.1 µm in y, x and 0.2 µm in z.
    rng : int or numpy.random.Generator, optional

    Returns
    -------
    Phantom
        ``image`` tube density (anti-aliased, ~1 inside, per-piece brightness
        varies by 10 %); ``labels`` one label per network piece (graph component,
        node attribute ``component``); ``class_mask`` 1 = mitochondrion;
        ``graph`` the ground truth (module docstring); ``params`` the parameters
        used, with ``n_components_made``, ``total_length_um``, ``mean_branch_length_um``.

    References
    ----------
    .. [1] Westrate LM et al. (2014) Mitochondrial morphological features are
       associated with fission and fusion events. PLoS ONE 9:e95265.
       doi:10.1371/journal.pone.0095265
    .. [2] Valente AJ et al. (2017) A simple ImageJ macro tool for analyzing
       mitochondrial network morphology in mammalian cell culture (MiNA).
       Acta Histochem 119:315–326. doi:10.1016/j.acthis.2017.03.001

    Examples
    --------
    >>> ph = mitochondria((64, 64), phenotype="fused", rng=0)
    >>> ph.labels.shape, ph.graph.number_of_edges() > 0
    ((64, 64), True)
    """
    if shape is None:
        nd = 2 if ndim is None else ndim
        if nd not in (2, 3):
            raise ValueError(f"ndim must be 2 or 3; got {ndim!r}")
        shape = (256, 256) if nd == 2 else (32, 128, 128)
    shape, spacing = check_shape_spacing(shape, spacing, _DEFAULT_SPACING)
    if ndim is not None and ndim != len(shape):
        raise ValueError(f"ndim={ndim} does not match shape {shape}")
    nd = len(shape)
    seed = seed_of(rng)
    rng = as_rng(rng)
    if region is None:
        region = np.ones(shape, dtype=bool)
    else:
        region = np.asarray(region)
        if region.shape != shape:
            raise ValueError(f"region must have the image shape {shape}; got {region.shape}")
        region = region.astype(bool)
    # erode the region by the tube radius (+ border margin)
    params = _resolve_params(phenotype=phenotype, fusion=fusion, n_components=n_components,
                             branch_length_um=branch_length_um, branching=branching,
                             max_branches=max_branches, tube_radius_um=tube_radius_um,
                             tortuosity=tortuosity, spacing=spacing, ndim=nd,
                             region_size=None)
    inner = _erode_region(region, spacing, params["tube_radius_um"] * 1.3)
    if n_components is None:
        size = float(inner.sum()) * float(np.prod(spacing))
        params["n_components"] = mito_params(fusion=params["fusion"], region_size=max(size, 1e-3),
                                             ndim=nd)["n_components"]
    graph, field, labels, _ = grow_network(
        inner, spacing=spacing, n_components=params["n_components"],
        branch_length_um=params["branch_length_um"], branching=params["branching"],
        max_branches=params["max_branches"], tube_radius_um=params["tube_radius_um"],
        tortuosity=params["tortuosity"], gap_um=check_positive("gap_um", gap_um, allow_zero=True),
        rng=rng)
    image, mask, labels = _tube_image(field, labels, spacing, graph, rng)
    graph.graph.update(fusion=params["fusion"], phenotype=params.get("phenotype") or "")
    params.update(kind="mito", shape=list(shape), spacing=list(spacing), seed=seed,
                  classes={"1": "mitochondrion"}, **graph_summary(graph))
    return Phantom(image=image, labels=labels, class_mask=mask.astype(np.uint8),
                   spacing=tuple(spacing), params=jsonable(params), graph=graph)


def _resolve_params(*, phenotype, fusion, spacing, ndim, region_size, **explicit):
    if fusion is not None:
        phenotype = None
    base = mito_params(phenotype=phenotype, fusion=fusion, ndim=ndim, region_size=region_size)
    base["phenotype"] = phenotype if fusion is None else None
    for key, value in explicit.items():
        if value is None:
            continue
        if key in ("n_components", "max_branches"):
            base[key] = check_positive(key, value, integer=True)
        elif key == "branching":
            base[key] = check_fraction(key, value)
        elif key == "tortuosity":
            base[key] = check_positive(key, value, allow_zero=True)
        else:
            base[key] = check_positive(key, value)
    min_r = 0.5 * float(np.sqrt(np.sum(np.square(spacing))))
    if base["tube_radius_um"] < min_r:
        log.warning("tube_radius_um=%.3g µm is below half a voxel diagonal; raised to %.3g µm "
                    "so that the mask covers the centre line", base["tube_radius_um"], min_r)
        base["tube_radius_um"] = min_r
    return base


def _erode_region(region, spacing, margin_um):
    from scipy import ndimage

    padded = np.pad(region, 1, constant_values=False)
    dist = ndimage.distance_transform_edt(padded, sampling=spacing)
    inner = dist[tuple(slice(1, -1) for _ in region.shape)] > margin_um
    return inner


def _tube_image(field, labels, spacing, graph, rng):
    """Mask, labels and an anti-aliased density image from the signed distance field.

    ``labels`` holds the nearest piece also just outside the tubes, which gives the
    anti-aliased rim the brightness of its piece.
    """
    mask = field <= 0
    h = float(min(spacing))
    alpha = np.clip(0.5 - field / h, 0.0, 1.0).astype(np.float32)
    gain = np.ones(int(labels.max()) + 1, dtype=np.float32)
    comps = sorted({d["component"] for _, d in graph.nodes(data=True)})
    if comps:
        gain[comps] = np.clip(1 + 0.1 * rng.standard_normal(len(comps)), 0.7, 1.3)
    image = alpha * gain[labels]
    return image.astype(np.float32), mask, np.where(mask, labels, 0).astype(np.int32)


def graph_summary(graph) -> dict:
    """Summary statistics of a ground-truth graph (for ``params``)."""
    import networkx as nx

    lengths = [d["length_um"] for _, _, d in graph.edges(data=True)]
    comps = nx.number_connected_components(graph) if graph.number_of_nodes() else 0
    return {
        "n_components_made": int(comps),
        "n_edges": len(lengths),
        "n_junctions": int(sum(1 for _, d in graph.degree() if d >= 3)),
        "n_ends": int(sum(1 for _, d in graph.degree() if d == 1)),
        "total_length_um": float(np.sum(lengths)) if lengths else 0.0,
        "mean_branch_length_um": float(np.mean(lengths)) if lengths else 0.0,
    }


def graph_to_graphml(graph, path) -> None:
    """Write a ground-truth graph as GraphML, atomically.

    GraphML holds scalar attributes only, so ``pos`` becomes ``z``/``y``/``x``
    (µm) and ``path_um`` a JSON list of points; :func:`graph_from_graphml` reverses
    this.
    """
    import networkx as nx

    from .._core.atomic import atomic_path

    out = nx.Graph()
    axes = "zyx"[-int(graph.graph.get("ndim", 3)):]
    for key, value in graph.graph.items():
        out.graph[key] = json.dumps(jsonable(value)) if isinstance(value, (tuple, list)) else value
    for n, d in graph.nodes(data=True):
        attrs = {k: v for k, v in d.items() if k != "pos"}
        for ax, v in zip(axes, d["pos"]):
            attrs[ax] = float(v)
        out.add_node(n, **jsonable(attrs))
    for a, b, d in graph.edges(data=True):
        attrs = {k: v for k, v in d.items() if k != "path_um"}
        attrs["path_um"] = json.dumps(np.round(np.asarray(d["path_um"]), 5).tolist())
        out.add_edge(a, b, **jsonable(attrs))
    with atomic_path(path) as tmp:
        nx.write_graphml(out, tmp)


def graph_from_graphml(path):
    """Read a graph written by :func:`graph_to_graphml` (``pos`` and ``path_um`` restored)."""
    import networkx as nx

    g = nx.read_graphml(path, node_type=int)
    ndim = int(g.graph.get("ndim", 3))
    axes = "zyx"[-ndim:]
    for _, d in g.nodes(data=True):
        d["pos"] = tuple(float(d.pop(ax)) for ax in axes)
    for _, _, d in g.edges(data=True):
        d["path_um"] = np.asarray(json.loads(d["path_um"]), dtype=float)
    if isinstance(g.graph.get("spacing"), str):
        g.graph["spacing"] = tuple(json.loads(g.graph["spacing"]))
    return g
