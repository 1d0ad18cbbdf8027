"""Phantoms with known graphs: tubes drawn along straight segments between known nodes.

``draw_tubes(shape, spacing, nodes, edges, radius)`` returns a boolean mask in which
every voxel centre within ``radius`` µm of a segment is foreground; ``nodes`` are
physical positions (µm, z y x or y x).  The true graph is the one given.
"""

from __future__ import annotations

import numpy as np
import pytest


def draw_tubes(shape, spacing, nodes, edges, radius):
    spacing = np.asarray(spacing, float)
    mask = np.zeros(shape, bool)
    nodes = {k: np.asarray(v, float) for k, v in nodes.items()}
    for a, b in edges:
        p, q = nodes[a], nodes[b]
        lo = np.maximum(np.floor((np.minimum(p, q) - radius) / spacing).astype(int) - 1, 0)
        hi = np.minimum(np.ceil((np.maximum(p, q) + radius) / spacing).astype(int) + 2, shape)
        grid = np.stack(np.meshgrid(*[np.arange(l, h) for l, h in zip(lo, hi)],
                                    indexing="ij"), axis=-1) * spacing
        d = q - p
        t = np.clip(((grid - p) @ d) / (d @ d), 0, 1)
        dist = np.linalg.norm(grid - (p + t[..., None] * d), axis=-1)
        mask[tuple(slice(l, h) for l, h in zip(lo, hi))] |= dist <= radius
    return mask


def ring(shape, spacing, centre, r_ring, radius, n=64):
    """A closed loop approximated by an n-gon of tube segments."""
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    centre = np.asarray(centre, float)
    nodes = {}
    for i, a in enumerate(ang):
        off = np.zeros(len(shape))
        off[-2:] = r_ring * np.sin(a), r_ring * np.cos(a)
        nodes[i] = centre + off
    edges = [(i, (i + 1) % n) for i in range(n)]
    return draw_tubes(shape, spacing, nodes, edges, radius), 2 * np.pi * r_ring


@pytest.fixture(scope="session")
def phantoms():
    """Namespace with draw_tubes and ring."""

    class P:
        pass

    P.draw_tubes = staticmethod(draw_tubes)
    P.ring = staticmethod(ring)
    return P
