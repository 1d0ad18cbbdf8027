"""Skeletons of binary masks traced into branch graphs (networkx).

A 2D ``(M, N)`` or 3D ``(P, M, N)`` mask is thinned to a one-voxel-wide skeleton
(:func:`skimage.morphology.skeletonize`; Lee et al. 1994 in 3D), and the skeleton is
traced into an undirected :class:`networkx.MultiGraph`:

* **nodes** are branch points (*junctions*), free ends (*endpoints*), single-voxel
  fragments (*isolated*) and, for a closed loop without any junction, one *loop* node
  that carries the loop as a self-loop edge;
* **edges** are branches, with ``length_um`` (sum of the voxel-centre steps along the
  branch, from node centre to node centre), ``mean_width_um`` (twice the mean
  Euclidean distance to the background at the branch voxels, i.e. a diameter),
  ``mean_intensity`` (with ``image=``), ``n_voxels`` and ``cell`` (with ``cells=``).

Tracing (no per-voxel Python loop)
----------------------------------
Skeleton voxels are indexed once (sorted linear indices); neighbour pairs in the
3**ndim - 1 neighbourhood are found with one :func:`numpy.searchsorted` per offset.
A diagonal pair is dropped when a shorter path of face (or face and edge) steps joins
the same two voxels through a third skeleton voxel, so that a staircase is a chain
and not a cluster of false junctions.  Voxels with one neighbour are endpoints, with
three or more are junction voxels (touching junction voxels form one junction node,
as in AnalyzeSkeleton), and the rest form chains found with
:func:`scipy.sparse.csgraph.connected_components`; the whole trace is
O(number of skeleton voxels).

Relation to Fiji's AnalyzeSkeleton and MiNA
-------------------------------------------
``n_junctions`` counts AnalyzeSkeleton's *junctions* (clusters of junction voxels),
not its *junction voxels*; ``n_endpoints`` its *end-point voxels*; ``n_edges`` its
*branches*; a single isolated voxel is MiNA's *punctum* (AnalyzeSkeleton gives it
0 branches).  Branch lengths are measured between node centres as AnalyzeSkeleton's
*average branch length* is, so a free end is about one tube radius shorter than the
object.  Junction nodes of degree 2 (a thick spot on a line) are merged into one
branch, and self-loops of at most two voxels on a junction (artefacts of thick
junctions) are dropped.

References
----------
.. [1] Lee TC, Kashyap RL, Chu CN (1994). Building skeleton models via 3-D medial
       surface/axis thinning algorithms. CVGIP: Graphical Models and Image
       Processing 56(6):462-478. https://doi.org/10.1006/cgip.1994.1042
.. [2] Arganda-Carreras I et al. (2010). 3D reconstruction of histological sections:
       application to mammary gland tissue. Microsc. Res. Tech. 73(11):1019-1029.
       https://doi.org/10.1002/jemt.20829  (AnalyzeSkeleton)
.. [3] Valente AJ et al. (2017). A simple ImageJ macro tool for analyzing
       mitochondrial network morphology in mammalian cell culture. Acta Histochem.
       119(3):315-326. https://doi.org/10.1016/j.acthis.2017.03.001  (MiNA)
"""

from __future__ import annotations

import itertools
import logging

import numpy as np

from .._core.options import check_positive, check_spacing

__all__ = ["skeletonize_mask", "skeleton_graph", "trace_skeleton", "NODE_KINDS"]

log = logging.getLogger(__name__)

#: node kinds written to the ``kind`` node attribute
NODE_KINDS = ("endpoint", "junction", "isolated", "loop")

_MAX_PRUNE_ROUNDS = 20


def _check_mask(mask, name="mask"):
    mask = np.asarray(mask)
    if mask.ndim not in (2, 3):
        raise ValueError(f"{name} must be a 2D (y, x) or 3D (z, y, x) binary image; got "
                         f"shape {mask.shape}")
    if mask.dtype != bool:
        values = np.unique(mask[: min(mask.shape[0], 64)]) if mask.size else []
        if np.issubdtype(mask.dtype, np.floating) and not np.all(np.isin(values, (0, 1))):
            raise TypeError(f"{name} must be binary (0/1 or bool); got float values such as "
                            f"{values[:5]}. Threshold the image first")
        mask = mask != 0
    return mask


def skeletonize_mask(mask) -> np.ndarray:
    """One-voxel-wide skeleton of a 2D or 3D binary mask (bool array, same shape).

    Uses :func:`skimage.morphology.skeletonize` (Zhang–Suen in 2D, Lee in 3D).
    """
    from skimage.morphology import skeletonize

    mask = _check_mask(mask)
    if not mask.any():
        return np.zeros(mask.shape, bool)
    return skeletonize(mask).astype(bool, copy=False)


def _offsets(ndim):
    """Half of the 3**ndim - 1 neighbour offsets (one of each ± pair)."""
    offs = np.array(list(itertools.product((-1, 0, 1), repeat=ndim)))
    offs = offs[np.any(offs != 0, axis=1)]
    first = offs[np.arange(len(offs)), np.argmax(offs != 0, axis=1)]
    return offs[first > 0]


def _shortcuts(offset):
    """Offsets ``o_T`` for every non-empty proper subset T of ``offset``'s non-zeros."""
    nz = np.flatnonzero(offset)
    out = []
    for k in range(1, len(nz)):
        for sub in itertools.combinations(nz, k):
            o = np.zeros_like(offset)
            o[list(sub)] = offset[list(sub)]
            out.append(o)
    return out


class _Lookup:
    """Membership of linear indices in the sorted skeleton index ``lin``."""

    def __init__(self, lin):
        self.lin = lin

    def __call__(self, targets):
        pos = np.searchsorted(self.lin, targets)
        pos = np.minimum(pos, len(self.lin) - 1)
        return self.lin[pos] == targets, pos


def _distance_at(mask, coords, spacing):
    """Euclidean distance to the background at ``coords``, one object crop at a time."""
    from scipy import ndimage

    structure = np.ones((3,) * mask.ndim, bool)
    objects, _ = ndimage.label(mask, structure=structure)
    out = np.zeros(len(coords))
    obj_of = objects[tuple(coords.T)]
    # group skeleton voxels by object once (sorting), then one EDT per object crop
    order = np.argsort(obj_of, kind="stable")
    bounds = np.searchsorted(obj_of[order], np.arange(1, objects.max() + 2))
    for i, sl in enumerate(ndimage.find_objects(objects), start=1):
        # the crop keeps a one-voxel background ring (objects are 3**ndim-connected),
        # so the nearest background voxel of every object voxel lies inside it
        idx = order[bounds[i - 1]:bounds[i]]
        if sl is None or idx.size == 0:
            continue
        padded = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in sl)
        crop = objects[padded] == i
        dist = ndimage.distance_transform_edt(crop, sampling=spacing)
        local = coords[idx] - np.array([s.start for s in padded])
        out[idx] = dist[tuple(local.T)]
    return out


def _components_within(member, i, j):
    """Connected components of the voxel graph (edges ``i[k]``-``j[k]``) restricted to the
    voxels where ``member`` is True.

    Returns ``(pos, inside, count, labels)``: each voxel's index among the members (-1
    for the others), which edges join two members, the number of components and the
    component of each member (in voxel order).
    """
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    idx = np.flatnonzero(member)
    pos = np.full(member.size, -1, np.int64)
    pos[idx] = np.arange(idx.size)
    inside = member[i] & member[j]
    adj = sparse.coo_matrix((np.ones(int(inside.sum())), (pos[i[inside]], pos[j[inside]])),
                            shape=(idx.size, idx.size))
    count, labels = connected_components(adj, directed=False)
    return pos, inside, count, labels


def _trace(coords, shape, spacing, cell_of):
    """Trace skeleton voxels ``coords`` (N, ndim) into raw nodes and branches.

    Returns a dict of numpy arrays (see the keys at the end); node ids index the
    node arrays, voxel-level arrays index ``coords``.
    """
    ndim = coords.shape[1]
    n = len(coords)
    pshape = np.array(shape) + 2
    strides = np.array([int(np.prod(pshape[i + 1:])) for i in range(ndim)], dtype=np.int64)
    lin = (coords.astype(np.int64) + 1) @ strides
    order = np.argsort(lin, kind="stable")
    if np.any(order != np.arange(n)):
        raise RuntimeError("internal: skeleton coordinates must be in C order")
    lookup = _Lookup(lin)
    spacing = np.asarray(spacing, float)

    full_i, full_j, kept_i, kept_j, kept_w = [], [], [], [], []
    for off in _offsets(ndim):
        found, pos = lookup(lin + off @ strides)
        i = np.flatnonzero(found)
        j = pos[found]
        if cell_of is not None:
            same = cell_of[i] == cell_of[j]
            i, j = i[same], j[same]
        full_i.append(i)
        full_j.append(j)
        keep = np.ones(len(i), bool)
        for short in _shortcuts(off):
            f2, p2 = lookup(lin[i] + short @ strides)
            if cell_of is not None:
                f2 &= cell_of[p2] == cell_of[i]
            keep &= ~f2
        kept_i.append(i[keep])
        kept_j.append(j[keep])
        kept_w.append(np.full(int(keep.sum()), float(np.linalg.norm(off * spacing))))
    full_i, full_j = np.concatenate(full_i), np.concatenate(full_j)
    ei, ej, ew = np.concatenate(kept_i), np.concatenate(kept_j), np.concatenate(kept_w)
    degree = np.bincount(ei, minlength=n) + np.bincount(ej, minlength=n)

    # --- nodes: junction clusters, endpoints, isolated voxels
    node_of = np.full(n, -1, np.int64)
    is_j = degree >= 3
    jv = np.flatnonzero(is_j)
    n_nodes = 0
    kinds = []
    if jv.size:
        _, _, n_clusters, cl = _components_within(is_j, full_i, full_j)
        node_of[jv] = cl
        n_nodes = n_clusters
        kinds += ["junction"] * n_clusters
    for deg, kind in ((1, "endpoint"), (0, "isolated")):
        v = np.flatnonzero(degree == deg)
        node_of[v] = n_nodes + np.arange(v.size)
        n_nodes += v.size
        kinds += [kind] * v.size

    # --- chains of slab voxels (degree 2)
    slab = degree == 2
    sv = np.flatnonzero(slab)
    chain_of = np.full(n, -1, np.int64)
    n_chains = 0
    if sv.size:
        spos, ss, n_chains, cl = _components_within(slab, ei, ej)
        chain_of[sv] = cl
        internal = np.bincount(cl[spos[ei[ss]]], weights=ew[ss], minlength=n_chains)
    else:
        internal = np.zeros(0)
    # attachments: one slab end, one node end
    att = slab[ei] != slab[ej]
    a_slab = np.where(slab[ei[att]], ei[att], ej[att])
    a_node = np.where(slab[ei[att]], ej[att], ei[att])
    a_chain = chain_of[a_slab]
    a_order = np.argsort(a_chain, kind="stable")
    a_chain, a_node, a_w = a_chain[a_order], node_of[a_node[a_order]], ew[att][a_order]
    n_att = np.bincount(a_chain, minlength=n_chains)
    if np.any((n_att != 0) & (n_att != 2)):
        raise RuntimeError("internal: a skeleton chain with other than 0 or 2 ends")
    paths = np.flatnonzero(n_att == 2)  # ascending, matches the sorted attachments
    pair_node = a_node.reshape(-1, 2)
    pair_w = a_w.reshape(-1, 2).sum(axis=1)
    cycles = np.flatnonzero(n_att == 0)

    # loop anchors for closed loops without any node
    loop_nodes = n_nodes + np.arange(cycles.size)
    n_nodes += cycles.size
    kinds += ["loop"] * cycles.size
    if cycles.size:
        first_voxel = np.full(n_chains, -1, np.int64)
        first_voxel[chain_of[sv][::-1]] = sv[::-1]
        node_of_anchor_voxel = first_voxel[cycles]
    else:
        node_of_anchor_voxel = np.zeros(0, np.int64)

    # direct node-node steps between different nodes
    nn = ~slab[ei] & ~slab[ej]
    d_u, d_v, d_w = node_of[ei[nn]], node_of[ej[nn]], ew[nn]
    d_i, d_j = ei[nn], ej[nn]
    differ = d_u != d_v
    d_u, d_v, d_w, d_i, d_j = d_u[differ], d_v[differ], d_w[differ], d_i[differ], d_j[differ]

    # edges: chains with two ends, closed loops, direct steps
    n_direct = d_u.size
    edge_u = np.concatenate([pair_node[:, 0], loop_nodes, d_u]).astype(np.int64)
    edge_v = np.concatenate([pair_node[:, 1], loop_nodes, d_v]).astype(np.int64)
    edge_len = np.concatenate([internal[paths] + pair_w, internal[cycles], d_w])
    # voxel -> edge (chains), so that per-edge means are bincounts
    chain_edge = np.full(n_chains, -1, np.int64)
    chain_edge[paths] = np.arange(paths.size)
    chain_edge[cycles] = paths.size + np.arange(cycles.size)
    n_edges = edge_u.size
    voxel_edge = np.full(n, -1, np.int64)  # (a skeleton may have no chain at all)
    voxel_edge[chain_of >= 0] = chain_edge[chain_of[chain_of >= 0]]
    direct_pairs = (np.arange(n_direct) + paths.size + cycles.size, d_i, d_j)

    # node centres
    node_voxels = node_of.copy()
    anchor = np.full(n, -1, np.int64)
    anchor[node_of_anchor_voxel] = loop_nodes
    node_voxels = np.where(anchor >= 0, anchor, node_voxels)
    has_node = node_voxels >= 0
    counts = np.bincount(node_voxels[has_node], minlength=n_nodes)
    centre = np.stack([np.bincount(node_voxels[has_node], weights=coords[has_node, k] * spacing[k],
                                   minlength=n_nodes) for k in range(ndim)], axis=1)
    centre = centre.astype(np.float64) / np.maximum(counts, 1)[:, None]
    return {"n_nodes": n_nodes, "kind": np.array(kinds, dtype=object), "centre": centre,
            "node_voxel_count": counts, "node_of": node_of, "edge_u": edge_u, "edge_v": edge_v,
            "edge_len": edge_len, "n_edges": n_edges, "voxel_edge": voxel_edge,
            "direct": direct_pairs, "anchor_voxel": node_of_anchor_voxel}


def _edge_means(t, values):
    """Per-edge mean of per-voxel ``values`` (chain voxels; end voxels for direct steps)."""
    ve = t["voxel_edge"]
    on = ve >= 0
    n_e = t["n_edges"]
    # float even when no voxel lies on a chain (bincount of nothing is int64)
    total = np.bincount(ve[on], weights=values[on], minlength=n_e).astype(np.float64)
    count = np.bincount(ve[on], minlength=n_e).astype(float)
    d_e, d_i, d_j = t["direct"]
    total[d_e] += values[d_i] + values[d_j]
    count[d_e] += 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count, count


def _spurs_to_remove(t, prune_um):
    """Voxel mask of terminal branches shorter than ``prune_um`` (and their end voxels)."""
    u, v, length = t["edge_u"], t["edge_v"], t["edge_len"]
    deg = np.bincount(u, minlength=t["n_nodes"]) + np.bincount(v, minlength=t["n_nodes"])
    end = deg == 1
    terminal = (end[u] ^ end[v]) & (length < prune_um)
    junction = np.where(end[u], v, u)
    terminal &= deg[junction] >= 3
    cand = np.flatnonzero(terminal)
    if cand.size == 0:
        return None
    # at each junction leave at least two branches: drop the shortest spurs first
    cand = cand[np.lexsort((length[cand], junction[cand]))]
    j = junction[cand]
    rank = np.arange(cand.size) - np.searchsorted(j, j)
    allowed = deg[j] - 2
    cand = cand[rank < allowed]
    if cand.size == 0:
        return None
    drop_edge = np.zeros(t["n_edges"], bool)
    drop_edge[cand] = True
    ve = t["voxel_edge"]
    remove = (ve >= 0) & drop_edge[np.maximum(ve, 0)]
    end_nodes = np.where(end[u[cand]], u[cand], v[cand])
    drop_node = np.zeros(t["n_nodes"], bool)
    drop_node[end_nodes] = True
    no = t["node_of"]
    remove |= (no >= 0) & drop_node[np.maximum(no, 0)]
    return remove


def trace_skeleton(skeleton, *, spacing=None, mask=None, image=None, cells=None,
                   prune_um: float = 0.0):
    """Graph of a one-voxel-wide skeleton (see :func:`skeleton_graph`)."""
    import networkx as nx

    skeleton = _check_mask(skeleton, "skeleton")
    ndim = skeleton.ndim
    spacing = check_spacing(spacing, ndim)
    prune_um = check_positive("prune_um", prune_um, allow_zero=True)
    for name, arr in (("mask", mask), ("image", image), ("cells", cells)):
        if arr is not None and np.shape(arr) != skeleton.shape:
            raise ValueError(f"{name} shape {np.shape(arr)} does not match the mask shape "
                             f"{skeleton.shape}; all images must cover the same voxels")
    coords = np.argwhere(skeleton)
    cell_of = None
    if cells is not None:
        from .morphology import check_labels

        cells = check_labels(cells, name="cells")
        cell_of = cells[tuple(coords.T)].astype(np.int64)

    axes = ("z", "y", "x")[3 - ndim:]
    graph = nx.MultiGraph(ndim=ndim, spacing_um=" ".join(f"{s:g}" for s in spacing),
                          prune_um=prune_um)
    if len(coords) == 0:
        log.info("empty skeleton: the graph has no nodes")
        return graph
    rounds = 0
    while True:
        t = _trace(coords, skeleton.shape, spacing, cell_of)
        if prune_um <= 0 or rounds >= _MAX_PRUNE_ROUNDS:
            break
        remove = _spurs_to_remove(t, prune_um)
        if remove is None:
            break
        coords = coords[~remove]
        if cell_of is not None:
            cell_of = cell_of[~remove]
        rounds += 1
    if rounds:
        log.info("pruned spurs shorter than %g µm in %d round(s)", prune_um, rounds)

    width = count = intensity = None
    if mask is not None and len(coords):
        dist = _distance_at(_check_mask(mask), coords, spacing)
        width, count = _edge_means(t, 2 * dist)
    if image is not None and len(coords):
        values = np.asarray(image)[tuple(coords.T)].astype(np.float64)
        intensity, count = _edge_means(t, values)
    if count is None:
        _, count = _edge_means(t, np.zeros(len(coords)))

    node_cell = np.zeros(t["n_nodes"], np.int64)
    if cell_of is not None:
        has = t["node_of"] >= 0
        node_cell[t["node_of"][has]] = cell_of[has]
        node_cell[len(node_cell) - len(t["anchor_voxel"]):] = cell_of[t["anchor_voxel"]]
    for k in range(t["n_nodes"]):
        attrs = {"kind": t["kind"][k], "n_voxels": int(t["node_voxel_count"][k])}
        for a, c in zip(axes, t["centre"][k]):
            attrs[f"{a}_um"] = float(c)
        if cell_of is not None:
            attrs["cell"] = int(node_cell[k])
        graph.add_node(k, **attrs)
    for e in range(t["n_edges"]):
        attrs = {"length_um": float(t["edge_len"][e]), "n_voxels": int(count[e])}
        if width is not None:
            attrs["mean_width_um"] = float(width[e])
        if intensity is not None:
            attrs["mean_intensity"] = float(intensity[e])
        if cell_of is not None:
            attrs["cell"] = int(node_cell[t["edge_u"][e]])
        graph.add_edge(int(t["edge_u"][e]), int(t["edge_v"][e]), **attrs)
    _tidy(graph)
    return graph


def _merge_attrs(a, b, node_voxels):
    """Attributes of the branch made by joining branches ``a`` and ``b``."""
    na, nb = a["n_voxels"], b["n_voxels"]
    out = {"length_um": a["length_um"] + b["length_um"], "n_voxels": na + nb + node_voxels}
    for key in ("mean_width_um", "mean_intensity"):
        if key in a:
            out[key] = (a[key] * na + b[key] * nb) / max(na + nb, 1)
    if "cell" in a:
        out["cell"] = a["cell"]
    return out


def _tidy(graph):
    """Drop thick-junction self-loops, merge degree-2 junctions, set kinds from degree."""
    for u, v, k, d in list(graph.edges(keys=True, data=True)):
        if u == v and graph.nodes[u]["kind"] == "junction" and d["n_voxels"] <= 2:
            graph.remove_edge(u, v, k)
    for node in [n for n, d in graph.nodes(data=True) if d["kind"] == "junction"]:
        if graph.degree(node) != 2:
            continue
        edges = list(graph.edges(node, keys=True, data=True))
        if len(edges) == 1:  # a self-loop only: a closed loop
            graph.nodes[node]["kind"] = "loop"
            continue
        (_, a_end, ka, da), (_, b_end, kb, db) = edges
        merged = _merge_attrs(da, db, graph.nodes[node]["n_voxels"])
        graph.remove_node(node)
        graph.add_edge(a_end, b_end, **merged)
    for node, deg in graph.degree():
        kind = graph.nodes[node]["kind"]
        if kind == "junction" and deg < 3:
            graph.nodes[node]["kind"] = "endpoint" if deg == 1 else "isolated"


def skeleton_graph(mask, *, spacing=None, image=None, cells=None, prune_um: float = 0.0,
                   skeleton=None):
    """Skeletonize a binary mask and trace it into a branch graph.

    Parameters
    ----------
    mask : ndarray of bool, shape (M, N) or (P, M, N)
        Foreground (e.g. mitochondria).
    spacing : float or sequence of float, optional
        Voxel size in µm, ``(z, y, x)`` or ``(y, x)``. Default 1 µm.
    image : ndarray, optional
        Intensity image of the same shape, for ``mean_intensity`` of the branches.
    cells : ndarray of int, optional
        Cell label image of the same shape; the skeleton is cut where it crosses
        from one cell to another, and nodes and edges get a ``cell`` attribute
        (0 outside every cell).
    prune_um : float, default 0
        Remove, repeatedly, terminal branches (endpoint to junction) shorter than
        this many µm; at least two branches are kept at every junction, so an object
        is shortened, never removed.  Isolated fragments are never pruned.
    skeleton : ndarray of bool, optional
        A skeleton computed elsewhere (e.g. by Fiji); default
        :func:`skeletonize_mask` of ``mask``.

    Returns
    -------
    networkx.MultiGraph
        Nodes ``0 … n-1`` with ``kind`` (one of :data:`NODE_KINDS`), ``n_voxels``,
        ``z_um``/``y_um``/``x_um`` (centre) and ``cell``; edges with ``length_um``,
        ``n_voxels``, ``mean_width_um``, ``mean_intensity`` and ``cell``.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((9, 30), bool); mask[3:6, 2:28] = True
    >>> g = skeleton_graph(mask, spacing=0.1)
    >>> g.number_of_nodes(), g.number_of_edges()
    (2, 1)
    """
    mask = _check_mask(mask)
    if skeleton is None:
        skeleton = skeletonize_mask(mask)
    elif np.shape(skeleton) != mask.shape:
        raise ValueError(f"skeleton shape {np.shape(skeleton)} does not match mask shape "
                         f"{mask.shape}")
    return trace_skeleton(skeleton, spacing=spacing, mask=mask, image=image, cells=cells,
                          prune_um=prune_um)
