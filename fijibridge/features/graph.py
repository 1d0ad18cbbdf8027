"""Network metrics of skeleton graphs, per image, per cell and per component.

All metrics take the :class:`networkx.MultiGraph` made by
:func:`fijibridge.features.skeleton_graph`.  Topological metrics (efficiency,
clustering, assortativity, communities) are computed on the *simple* graph: parallel
branches between two nodes count once and self-loops are ignored; they use hop
counts, not µm.

Definitions
-----------
``n_nodes``, ``n_edges``
    Nodes and branches (edges of the multigraph, self-loops included).
``n_endpoints``, ``n_junctions``, ``n_isolated``
    Nodes of degree 1, of degree ≥ 3, and single-voxel fragments (degree 0; MiNA's
    *puncta*).  A closed loop without any junction has one node of kind ``loop``
    that is none of these.
``n_components``
    Connected components (MiNA's *individuals*); ``n_networks`` counts those with at
    least one junction (MiNA's *networks*).
``n_cycles``
    Independent cycles (cyclomatic number ``E - N + C`` of the multigraph).
``total_length_um``, ``mean_branch_length_um``
    Sum and mean of the branch lengths (MiNA's *summed* / *mean branch length*).
``mean_branch_width_um``
    Length-weighted mean of the branch widths (diameters).
``average_degree``
    ``2 E / N`` (a self-loop adds 2 to its node's degree).
``link_density``
    ``2 E_s / (N (N - 1))`` with ``E_s`` edges of the simple graph
    (:func:`networkx.density`).
``global_efficiency``
    Mean over ordered node pairs of ``1 / d(i, j)`` (hops; 0 between components),
    Latora & Marchiori (2001).
``local_efficiency``
    Mean over nodes of the global efficiency of the subgraph of the node's
    neighbours.
``average_clustering``
    Mean local clustering coefficient (:func:`networkx.average_clustering`).
``assortativity``
    Degree assortativity (Pearson correlation of the degrees at the two ends of the
    edges); NaN where undefined (e.g. every degree equal).
``modularity``, ``n_communities``
    Louvain communities (:func:`networkx.community.louvain_communities`, seeded by
    ``rng``) and their modularity; NaN modularity for a graph without edges.
``largest_component_fraction``
    Fraction of ``total_length_um`` in the longest component (fraction of nodes when
    the graph has no length).

References
----------
.. [1] Latora V, Marchiori M (2001). Efficient behavior of small-world networks.
       Phys. Rev. Lett. 87:198701. https://doi.org/10.1103/PhysRevLett.87.198701
.. [2] Blondel VD et al. (2008). Fast unfolding of communities in large networks.
       J. Stat. Mech. P10008. https://doi.org/10.1088/1742-5468/2008/10/P10008
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

__all__ = ["network_metrics", "component_table", "cell_table", "branch_table",
           "node_table", "save_graphml", "METRICS"]

log = logging.getLogger(__name__)

#: metric names, in the column order of the tables
METRICS = ("n_nodes", "n_edges", "n_endpoints", "n_junctions", "n_isolated", "n_components",
           "n_networks", "n_cycles", "total_length_um", "mean_branch_length_um",
           "mean_branch_width_um", "average_degree", "link_density", "global_efficiency",
           "local_efficiency", "average_clustering", "assortativity", "modularity",
           "n_communities", "largest_component_fraction")


def _simple(graph):
    import networkx as nx

    simple = nx.Graph()
    simple.add_nodes_from(graph.nodes)
    simple.add_edges_from((u, v) for u, v in graph.edges() if u != v)
    return simple


def _global_efficiency(simple, components):
    """Latora–Marchiori efficiency with one breadth-first search per node (scipy)."""
    import networkx as nx
    from scipy.sparse.csgraph import shortest_path

    n = simple.number_of_nodes()
    if n < 2:
        return 0.0
    total = 0.0
    for comp in components:
        k = len(comp)
        if k < 2:
            continue
        if k == 2:
            total += 2.0
            continue
        adj = nx.to_scipy_sparse_array(simple, nodelist=list(comp), format="csr")
        for start in range(0, k, 512):
            d = shortest_path(adj, directed=False, unweighted=True,
                              indices=np.arange(start, min(start + 512, k)))
            finite = np.isfinite(d) & (d > 0)
            total += float(np.sum(1.0 / d[finite]))
    return total / (n * (n - 1))


def _local_efficiency(simple):
    import networkx as nx

    n = simple.number_of_nodes()
    if n == 0:
        return 0.0
    total = 0.0
    for node in simple:
        nbrs = list(simple[node])
        if len(nbrs) < 2:
            continue
        sub = simple.subgraph(nbrs)
        if sub.number_of_edges() == 0:  # the usual case in a skeleton: a tree-like spot
            continue
        total += nx.global_efficiency(sub)
    return total / n


def network_metrics(graph, *, rng=0) -> dict:
    """Metrics of one graph (see the module docstring), as a dict in :data:`METRICS` order.

    Parameters
    ----------
    graph : networkx.MultiGraph
        From :func:`fijibridge.features.skeleton_graph` (or a subgraph of it).
    rng : int, optional
        Seed of the Louvain community search.
    """
    import networkx as nx

    n = graph.number_of_nodes()
    e = graph.number_of_edges()
    degree = dict(graph.degree())
    lengths = np.array([d.get("length_um", 0.0) for _, _, d in graph.edges(data=True)])
    widths = np.array([d.get("mean_width_um", np.nan) for _, _, d in graph.edges(data=True)])
    simple = _simple(graph)
    components = [c for c in nx.connected_components(graph)]
    comp_len = [sum(d.get("length_um", 0.0) for _, _, d in graph.subgraph(c).edges(data=True))
                for c in components]
    total = float(lengths.sum())
    kinds = nx.get_node_attributes(graph, "kind")
    junction_nodes = {k for k, v in degree.items() if v >= 3}
    out = {
        "n_nodes": n,
        "n_edges": e,
        "n_endpoints": sum(1 for v in degree.values() if v == 1),
        "n_junctions": len(junction_nodes),
        "n_isolated": sum(1 for k, v in degree.items() if v == 0 and kinds.get(k) != "loop"),
        "n_components": len(components),
        "n_networks": sum(1 for c in components if junction_nodes & c),
        "n_cycles": e - n + len(components),
        "total_length_um": total,
        "mean_branch_length_um": float(lengths.mean()) if e else np.nan,
        "mean_branch_width_um": (float(np.nansum(widths * lengths) / total)
                                 if total > 0 and np.isfinite(widths).any() else np.nan),
        "average_degree": 2.0 * e / n if n else np.nan,
        "link_density": nx.density(simple) if n > 1 else np.nan,
        "global_efficiency": _global_efficiency(simple, components) if n else np.nan,
        "local_efficiency": _local_efficiency(simple) if n else np.nan,
        "average_clustering": nx.average_clustering(simple) if n else np.nan,
    }
    if simple.number_of_edges() > 0:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            r = nx.degree_assortativity_coefficient(simple)
        out["assortativity"] = float(r) if np.isfinite(r) else np.nan
        communities = nx.community.louvain_communities(simple, seed=rng)
        out["modularity"] = float(nx.community.modularity(simple, communities))
        out["n_communities"] = len(communities)
    else:
        out["assortativity"] = np.nan
        out["modularity"] = np.nan
        out["n_communities"] = n
    if total > 0:
        out["largest_component_fraction"] = max(comp_len) / total
    else:
        out["largest_component_fraction"] = (max(len(c) for c in components) / n
                                             if n else np.nan)
    return out


def _empty_metrics():
    return {m: (0 if m.startswith("n_") or m == "total_length_um" else np.nan) for m in METRICS}


def component_table(graph, *, rng=0) -> pd.DataFrame:
    """One row of :func:`network_metrics` per connected component.

    Components are numbered 1, 2, … by decreasing length; ``cell`` is added when
    the graph carries cells.
    """
    import networkx as nx

    comps = [graph.subgraph(c) for c in nx.connected_components(graph)]
    comps.sort(key=lambda g: -sum(d["length_um"] for _, _, d in g.edges(data=True)))
    rows = []
    for i, sub in enumerate(comps, start=1):
        row = {"component": i}
        first = next(iter(sub.nodes))
        if "cell" in graph.nodes[first]:
            row["cell"] = graph.nodes[first]["cell"]
        row.update(network_metrics(sub, rng=rng))
        rows.append(row)
    columns = ["component"] + (["cell"] if rows and "cell" in rows[0] else []) + list(METRICS)
    return pd.DataFrame(rows, columns=columns)


def cell_table(graph, cell_ids, *, rng=0) -> pd.DataFrame:
    """One row of :func:`network_metrics` per cell label in ``cell_ids``.

    Cells without any skeleton get a row of zeros/NaN, so that every cell of the
    cell mask appears.  Skeleton outside every cell (cell 0) is left out and logged.
    """
    by_cell: dict[int, list] = {}
    for node, c in graph.nodes(data="cell"):
        if c is None:
            raise ValueError("the graph has no cell attribute; build it with cells=")
        by_cell.setdefault(int(c), []).append(node)
    outside = by_cell.pop(0, [])
    if outside:
        length = sum(d["length_um"] for _, _, d in graph.subgraph(outside).edges(data=True))
        log.info("%d nodes (%.1f µm of skeleton) lie outside every cell and are not counted",
                 len(outside), length)
    rows = []
    for c in sorted(int(x) for x in cell_ids if int(x) != 0):
        nodes = by_cell.get(c)
        row = {"cell": c}
        row.update(network_metrics(graph.subgraph(nodes), rng=rng) if nodes else _empty_metrics())
        rows.append(row)
    return pd.DataFrame(rows, columns=["cell"] + list(METRICS))


def branch_table(graph) -> pd.DataFrame:
    """One row per branch: end nodes, their kinds, and the edge attributes."""
    rows = []
    for u, v, d in graph.edges(data=True):
        row = {"node_u": u, "node_v": v, "kind_u": graph.nodes[u]["kind"],
               "kind_v": graph.nodes[v]["kind"]}
        row.update(d)
        rows.append(row)
    return pd.DataFrame(rows)


def node_table(graph) -> pd.DataFrame:
    """One row per node with its degree and attributes."""
    rows = [{"node": n, "degree": graph.degree(n), **d} for n, d in graph.nodes(data=True)]
    return pd.DataFrame(rows)


def save_graphml(graph, path):
    """Write ``graph`` as GraphML, atomically (attributes as plain int/float/str)."""
    import networkx as nx

    from .._core.atomic import atomic_path

    def plain(value):
        if isinstance(value, (np.integer,)):
            return int(value)
        if isinstance(value, (np.floating,)):
            return float(value)
        if isinstance(value, np.bool_):
            return bool(value)
        return value

    clean = nx.MultiGraph(**{k: plain(v) for k, v in graph.graph.items()})
    clean.add_nodes_from((n, {k: plain(v) for k, v in d.items()})
                         for n, d in graph.nodes(data=True))
    clean.add_edges_from((u, v, {k: plain(x) for k, x in d.items()})
                         for u, v, d in graph.edges(data=True))
    with atomic_path(path) as tmp:
        nx.write_graphml(clean, tmp)
    return path
