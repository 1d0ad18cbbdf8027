"""Skeleton graphs of phantoms whose graphs are known (tubes drawn along segments).

Tolerances, from the phantoms below (tube radius 0.35 µm, 0.1 µm pixels, 0.2 µm
z-steps in 3D): node, edge, endpoint, junction and component counts are exact; the
total branch length is within 8 % of the drawn centre lines (measured: 1.2–5.5 %;
the staircase of voxel steps lengthens oblique branches by up to ~8 %, and free ends
stop about a voxel short of the drawn end); the mean width is within 15 % of the tube
diameter (measured 0–12 %; twice the distance to the background at voxel centres).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from fijibridge.features import (branch_table, cell_table, component_table, network_metrics,
                                 save_graphml, skeleton_graph)

R = 0.35


def _length(nodes, edges):
    return sum(float(np.linalg.norm(np.subtract(nodes[a], nodes[b]))) for a, b in edges)


CASES = {
    # name: (nodes in µm (y, x), edges, n_endpoints, n_junctions, n_components)
    "line": ({0: (2, 2), 1: (9, 10)}, [(0, 1)], 2, 0, 1),
    "Y": ({0: (6, 6), 1: (1.5, 6), 2: (9, 2), 3: (9.5, 10.5)}, [(0, 1), (0, 2), (0, 3)], 3, 1, 1),
    "H": ({0: (2, 2), 1: (10, 2), 2: (6, 2.2), 3: (6, 9.8), 4: (2, 10), 5: (10, 10)},
          [(0, 2), (2, 1), (2, 3), (4, 3), (3, 5)], 4, 2, 1),
    "fragments": ({0: (1, 1), 1: (1, 10), 2: (4, 2), 3: (9, 4), 4: (11, 8), 5: (6, 10)},
                  [(0, 1), (2, 3), (4, 5)], 6, 0, 3),
}


def _geometry(ndim):
    if ndim == 2:
        return (120, 120), (0.1, 0.1), ()
    return (21, 120, 120), (0.2, 0.1, 0.1), (2.0,)


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("name", list(CASES))
def test_known_graphs(phantoms, name, ndim):
    nodes, edges, n_end, n_junc, n_comp = CASES[name]
    shape, spacing, z = _geometry(ndim)
    nodes = {k: z + v for k, v in nodes.items()}
    mask = phantoms.draw_tubes(shape, spacing, nodes, edges, R)
    g = skeleton_graph(mask, spacing=spacing)
    m = network_metrics(g)
    assert (m["n_nodes"], m["n_edges"]) == (len(nodes), len(edges))
    assert (m["n_endpoints"], m["n_junctions"], m["n_components"]) == (n_end, n_junc, n_comp)
    assert m["n_cycles"] == 0
    assert m["total_length_um"] == pytest.approx(_length(nodes, edges), rel=0.08)
    assert m["mean_branch_width_um"] == pytest.approx(2 * R, rel=0.15)
    # the junction node lies at the drawn junction (within 2 voxels)
    if name == "Y":
        junction = [d for _, d in g.nodes(data=True) if d["kind"] == "junction"][0]
        pos = [junction[f"{a}_um"] for a in "zyx"[3 - ndim:]]
        assert np.allclose(pos, nodes[0], atol=2 * max(spacing))


@pytest.mark.parametrize("ndim", [2, 3])
def test_isolated_loop_lollipop_and_single_voxel(phantoms, ndim):
    shape, spacing, z = _geometry(ndim)
    ring, circumference = phantoms.ring(shape, spacing, z + (6, 6), 4.0, R)
    g = skeleton_graph(ring, spacing=spacing)
    m = network_metrics(g)
    assert (m["n_nodes"], m["n_edges"], m["n_endpoints"], m["n_junctions"], m["n_cycles"]) == \
        (1, 1, 0, 0, 1)
    assert [d["kind"] for _, d in g.nodes(data=True)] == ["loop"]
    assert m["total_length_um"] == pytest.approx(circumference, rel=0.08)
    # a loop with a stick: one junction, one endpoint, a self-loop and a branch
    stick = phantoms.draw_tubes(shape, spacing, {0: z + (10, 6), 1: z + (11.5, 6)}, [(0, 1)], R)
    g = skeleton_graph(ring | stick, spacing=spacing)
    m = network_metrics(g)
    assert (m["n_nodes"], m["n_edges"], m["n_endpoints"], m["n_junctions"], m["n_cycles"]) == \
        (2, 2, 1, 1, 1)
    assert nx.number_of_selfloops(g) == 1
    # a single foreground voxel is an isolated node without branches
    dot = np.zeros(shape, bool)
    dot[(shape[0] // 2,) * (ndim - 2) + (100, 100)] = True
    m = network_metrics(skeleton_graph(ring | dot, spacing=spacing))
    assert (m["n_isolated"], m["n_components"], m["n_edges"]) == (1, 2, 1)


def test_spur_pruning_by_length(phantoms):
    shape, spacing = (120, 120), (0.1, 0.1)
    nodes = {0: (6, 1), 1: (6, 11), 2: (6, 6), 3: (7.2, 6)}
    mask = phantoms.draw_tubes(shape, spacing, nodes, [(0, 2), (2, 1), (2, 3)], 0.3)
    assert network_metrics(skeleton_graph(mask, spacing=spacing))["n_junctions"] == 1
    g = skeleton_graph(mask, spacing=spacing, prune_um=1.5)
    m = network_metrics(g)
    assert (m["n_nodes"], m["n_edges"], m["n_endpoints"], m["n_junctions"]) == (2, 1, 2, 0)
    assert m["total_length_um"] == pytest.approx(10, rel=0.08)
    # a shorter threshold keeps the spur; pruning never removes a whole fragment
    assert network_metrics(skeleton_graph(mask, spacing=spacing, prune_um=0.5))["n_junctions"] == 1
    short = phantoms.draw_tubes(shape, spacing, {0: (2, 2), 1: (2, 2.8)}, [(0, 1)], 0.3)
    assert network_metrics(skeleton_graph(short, spacing=spacing, prune_um=5))["n_edges"] == 1


def test_per_cell_tables_and_components(phantoms):
    shape, spacing = (120, 120), (0.1, 0.1)
    y_nodes = {0: (3, 3), 1: (0.5, 3), 2: (5, 1), 3: (5, 5)}
    left = phantoms.draw_tubes(shape, spacing, y_nodes, [(0, 1), (0, 2), (0, 3)], R)
    right = phantoms.draw_tubes(shape, spacing, {0: (2, 7), 1: (9, 11), 2: (10, 6), 3: (11, 9)},
                                [(0, 1), (2, 3)], R)
    cells = np.zeros(shape, np.uint16)
    cells[:, :55] = 1
    cells[:, 55:] = 2
    cells[116:, :] = 3  # a cell without any skeleton
    g = skeleton_graph(left | right, spacing=spacing, cells=cells)
    t = cell_table(g, np.unique(cells)).set_index("cell")
    assert t.index.tolist() == [1, 2, 3]
    assert t.loc[1, ["n_junctions", "n_endpoints", "n_edges"]].tolist() == [1, 3, 3]
    assert t.loc[2, ["n_components", "n_endpoints", "n_junctions"]].tolist() == [2, 4, 0]
    assert t.loc[3, "n_nodes"] == 0 and t.loc[3, "total_length_um"] == 0
    comps = component_table(g)
    assert len(comps) == 3 and set(comps["cell"]) == {1, 2}
    assert comps["total_length_um"].is_monotonic_decreasing
    branches = branch_table(g)
    assert len(branches) == 5 and (branches["length_um"] > 0).all()


def test_graphml_round_trip(phantoms, tmp_path):
    nodes, edges, *_ = CASES["H"]
    mask = phantoms.draw_tubes((120, 120), (0.1, 0.1), nodes, edges, R)
    g = skeleton_graph(mask, spacing=0.1, image=mask.astype(np.float32) * 3)
    path = save_graphml(g, tmp_path / "h.graphml")
    back = nx.read_graphml(path)
    assert back.number_of_nodes() == 6 and back.number_of_edges() == 5
    lengths = sorted(d["length_um"] for _, _, d in back.edges(data=True))
    assert lengths == pytest.approx(sorted(d["length_um"] for _, _, d in g.edges(data=True)))
    assert {d["kind"] for _, d in back.nodes(data=True)} == {"endpoint", "junction"}
    assert all(d["mean_intensity"] == pytest.approx(3.0) for _, _, d in back.edges(data=True))


def test_topological_metrics_match_networkx():
    g = nx.MultiGraph(nx.connected_watts_strogatz_graph(40, 4, 0.2, seed=3))
    g.add_edges_from([(40, 41), (42, 42)])  # a separate fragment and a loop node
    for u, v, d in g.edges(data=True):
        d["length_um"] = 1.0
    for n in g:
        g.nodes[n]["kind"] = "loop" if n == 42 else "junction"
    m = network_metrics(g, rng=0)
    simple = nx.Graph(g)
    simple.remove_edges_from(nx.selfloop_edges(simple))
    assert m["global_efficiency"] == pytest.approx(nx.global_efficiency(simple))
    assert m["local_efficiency"] == pytest.approx(nx.local_efficiency(simple))
    assert m["average_clustering"] == pytest.approx(nx.average_clustering(simple))
    assert m["link_density"] == pytest.approx(nx.density(simple))
    assert m["n_components"] == 3 and m["n_cycles"] == g.number_of_edges() - 43 + 3
    assert m["largest_component_fraction"] == pytest.approx(80 / 82)
    assert m["n_communities"] >= 3 and 0 < m["modularity"] < 1
    assert network_metrics(g, rng=0) == m  # Louvain is seeded


def test_bad_inputs_name_the_problem():
    mask = np.zeros((10, 10), bool)
    mask[5, 2:8] = True
    with pytest.raises(ValueError, match="spacing must have 2 values"):
        skeleton_graph(mask, spacing=(1, 1, 1))
    with pytest.raises(ValueError, match="image shape"):
        skeleton_graph(mask, image=np.zeros((10, 12)))
    with pytest.raises(ValueError, match="cells shape"):
        skeleton_graph(mask, cells=np.zeros((3, 10, 10), np.uint8))
    with pytest.raises(ValueError, match="2D"):
        skeleton_graph(np.zeros(5, bool))
    with pytest.raises(TypeError, match="binary"):
        skeleton_graph(mask * 0.5)
    with pytest.raises(ValueError, match="prune_um"):
        skeleton_graph(mask, prune_um=-1)
    empty = network_metrics(skeleton_graph(np.zeros((10, 10), bool)))
    assert empty["n_nodes"] == 0 and empty["total_length_um"] == 0


def test_skeleton_is_cut_at_cell_borders(phantoms):
    # one straight tube across two touching cells: each cell gets one branch
    # with two endpoints, and the lengths add up to the whole
    mask = phantoms.draw_tubes((60, 120), (0.1, 0.1), {0: (3, 1), 1: (3, 11)}, [(0, 1)], R)
    cells = np.ones(mask.shape, np.uint8)
    cells[:, 60:] = 2
    whole = network_metrics(skeleton_graph(mask, spacing=0.1))["total_length_um"]
    t = cell_table(skeleton_graph(mask, spacing=0.1, cells=cells), [1, 2]).set_index("cell")
    assert t["n_edges"].tolist() == [1, 1] and t["n_endpoints"].tolist() == [2, 2]
    assert t["total_length_um"].sum() == pytest.approx(whole - 0.1, abs=1e-9)


@pytest.mark.parametrize("name, pixels, kinds, lengths", [
    ("dot", [[1]], ["isolated"], []),
    ("pair", [[1, 1]], ["endpoint", "endpoint"], [0.2]),
    ("plus", [[0, 1, 0], [1, 1, 1], [0, 1, 0]], ["junction"] + ["endpoint"] * 4, [0.2] * 4),
])
def test_skeleton_without_any_chain_voxel(name, pixels, kinds, lengths):
    """Skeletons with no degree-2 voxel (no chain) trace to their direct steps; they
    raised IndexError before (an empty chain table was indexed)."""
    from fijibridge.features import trace_skeleton

    skeleton = np.pad(np.array(pixels, bool), 3)
    image = np.arange(skeleton.size, dtype=np.float32).reshape(skeleton.shape)
    g = trace_skeleton(skeleton, spacing=(0.2, 0.2), image=image)
    assert sorted(d["kind"] for _, d in g.nodes(data=True)) == sorted(kinds)
    assert sorted(d["length_um"] for *_, d in g.edges(data=True)) == pytest.approx(lengths)
    for u, v, d in g.edges(data=True):  # a direct step's mean is that of its two voxels
        ends = [image[round(g.nodes[k]["y_um"] / 0.2), round(g.nodes[k]["x_um"] / 0.2)]
                for k in (u, v)]
        assert d["mean_intensity"] == pytest.approx(np.mean(ends))
