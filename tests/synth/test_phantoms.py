"""Phantom generators: reproducibility, shapes, ground truth consistency, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from fijibridge.synth import (Phantom, cells, elastic_deform, golgi, make_phantom, monocyte_cohort,
                              nuclei)


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("kind", ["nuclei", "mito", "golgi", "cells"])
def test_shapes_dtypes_and_reproducible(kind, ndim):
    shape = {2: (96, 96), 3: (16, 64, 64)}[ndim]
    if kind == "cells":
        shape = {2: (150, 150), 3: (60, 150, 150)}[ndim]
    a = make_phantom(kind, ndim=ndim, shape=shape, rng=7)
    b = make_phantom(kind, ndim=ndim, shape=shape, rng=np.random.default_rng(7))
    assert isinstance(a, Phantom)
    assert a.image.shape == a.labels.shape == a.class_mask.shape == shape
    assert a.image.dtype == np.float32 and a.labels.dtype == np.int32
    assert a.class_mask.dtype == np.uint8
    assert len(a.spacing) == ndim
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.labels.max() > 0 and a.image.max() > 0
    c = make_phantom(kind, ndim=ndim, shape=shape, rng=8)
    assert not np.array_equal(a.labels, c.labels)
    for m in a.masks.values():
        assert m.shape == shape
    import json
    json.dumps(a.params)  # JSON-serialisable


def _adjacent_pairs(labels):
    pairs = set()
    for ax in range(labels.ndim):
        a = np.moveaxis(labels, ax, 0)
        x, y = a[:-1], a[1:]
        sel = (x > 0) & (y > 0) & (x != y)
        for p, q in zip(x[sel], y[sel]):
            pairs.add((min(p, q), max(p, q)))
    return pairs


def test_nuclei_touching_and_overlapping_cases_present():
    ph = nuclei((256, 256), n_nuclei=14, touching=0.4, overlapping=0.2, rng=2)
    touching = ph.params["touching_pairs"]
    overlapping = ph.params["overlapping_pairs"]
    assert touching and overlapping
    adj = _adjacent_pairs(ph.labels)
    # every touching or overlapping pair shares a label border
    for a, b in touching + overlapping:
        assert (min(a, b), max(a, b)) in adj
    assert ph.masks["overlap"].any()
    # labels are a partition and each label is one connected object
    for lab in range(1, ph.labels.max() + 1):
        assert ndimage.label(ph.labels == lab)[1] == 1


def test_nuclei_size_spread():
    ph = nuclei((256, 256), n_nuclei=12, touching=0, overlapping=0, radius_cv=0.2, rng=4)
    areas = np.bincount(ph.labels.ravel())[1:] * np.prod(ph.spacing)
    assert len(areas) == ph.params["n_made"] >= 8
    r = np.sqrt(areas / np.pi)
    assert 3.5 < r.mean() < 6.5 and r.std() > 0.3


def test_golgi_pairs_and_classes():
    ph = golgi((192, 192), n_nuclei=5, rng=3)
    n = ph.params["n_made"]
    assert set(np.unique(ph.class_mask)) == {0, 1, 2}
    pair_ids = ph.masks["pair_ids"]
    for pair in ph.params["pairs"]:
        k = pair["pair_id"]
        nuc = ph.labels == k
        gol = ph.labels == n + k
        assert nuc.any() and gol.any()
        assert np.all(pair_ids[nuc] == k) and np.all(pair_ids[gol] == k)
        assert np.all(ph.class_mask[nuc] == 1) and np.all(ph.class_mask[gol] == 2)
        # the Golgi is closer to its own nucleus than to any other
        gc = np.asarray(pair["golgi_center_um"])
        d = [np.linalg.norm(gc - np.asarray(p["nucleus_center_um"])) for p in ph.params["pairs"]]
        assert int(np.argmin(d)) + 1 == k
    assert ph.masks["puncta_labels"].max() >= n


def test_cells_structure():
    ph = cells((160, 160), phenotype="fused", rng=5)
    cell = ph.labels == 1
    nuc = ph.masks["nucleus_labels"] == 1
    mito = ph.class_mask == 3
    assert nuc.any() and mito.any()
    assert np.all(cell[nuc]) and np.all(cell[mito])       # inside the cell
    assert not np.any(mito & nuc)                           # mitochondria in the cytoplasm
    assert set(np.unique(ph.masks["mito_labels"][mito])) == {
        d["component"] for _, d in ph.graph.nodes(data=True)}
    assert all(d["cell"] == 1 for _, d in ph.graph.nodes(data=True))
    assert "nucleus" in ph.channels


def test_cohort_groups_overlap_and_reproducible():
    a = list(monocyte_cohort(n_control=4, n_patient=4, rng=11, shape=(150, 150)))
    b = list(monocyte_cohort(n_control=4, n_patient=4, rng=11, shape=(150, 150)))
    assert [p.params["group"] for p in a] == ["control"] * 4 + ["patient"] * 4
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.labels, q.labels)
    fc = np.array([p.params["fusion"] for p in a[:4]])
    fp = np.array([p.params["fusion"] for p in a[4:]])
    assert fc.mean() > fp.mean()
    comps_c = np.mean([p.params["n_components_made"] for p in a[:4]])
    comps_p = np.mean([p.params["n_components_made"] for p in a[4:]])
    assert comps_p > comps_c
    with pytest.raises(TypeError, match="fusion"):
        next(monocyte_cohort(n_control=1, n_patient=1, fusion=0.5))


@pytest.mark.parametrize("kind", ["nuclei", "cells"])
def test_elastic_deform_consistent(kind):
    ph = make_phantom(kind, ndim=2, shape=(160, 160), rng=1)
    de = elastic_deform(ph, alpha_um=0.8, sigma_um=5.0, rng=2)
    assert de.labels.dtype == ph.labels.dtype and de.labels.shape == ph.labels.shape
    assert set(np.unique(de.labels)) <= set(np.unique(ph.labels))
    assert not np.array_equal(de.labels, ph.labels)
    # labels and image move together: the image is bright where the labels are
    assert de.image[de.labels > 0].mean() > 5 * de.image[de.labels == 0].mean() + 1e-6
    np.testing.assert_array_equal(elastic_deform(ph, alpha_um=0.8, sigma_um=5.0, rng=2).labels,
                                  de.labels)
    if ph.graph is not None:
        mito = ndimage.binary_dilation(de.class_mask == 3)
        idx = [tuple(np.rint(np.asarray(d["pos"]) / de.spacing).astype(int))
               for _, d in de.graph.nodes(data=True)]
        inside = np.mean([mito[i] for i in idx])
        assert inside >= 0.95


def test_elastic_deform_fold_raises():
    ph = nuclei((64, 64), n_nuclei=2, rng=0)
    with pytest.raises(ValueError, match="folds"):
        elastic_deform(ph, alpha_um=5.0, sigma_um=1.0, rng=0)


@pytest.mark.parametrize("call, err, match", [
    (lambda: make_phantom("nucleus"), ValueError, "Did you mean 'nuclei'"),
    (lambda: make_phantom("nuclei", ndim=4), ValueError, "ndim must be 2 or 3"),
    (lambda: nuclei((64, 64, 64, 64)), ValueError, "2 \\(y, x\\) or 3"),
    (lambda: nuclei((64, 64), spacing=(1, 1, 1)), ValueError, "spacing must have 2 values"),
    (lambda: nuclei((64, 64), spacing=(0, 1)), ValueError, "> 0"),
    (lambda: nuclei((64, 64), touching=0.8, overlapping=0.5), ValueError, "<= 1"),
    (lambda: nuclei((64, 64), rng="seed"), TypeError, "rng must be"),
    (lambda: nuclei((64, 64), n_nuclei=0), ValueError, "n_nuclei"),
    (lambda: golgi((64, 64), n_puncta=(5, 2)), ValueError, "n_puncta"),
    (lambda: cells((40, 40)), ValueError, "does not fit"),
    (lambda: elastic_deform(np.zeros((8, 8))), TypeError, "Phantom"),
])
def test_bad_input(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_import_is_light():
    import subprocess
    import sys

    code = ("import sys, fijibridge, fijibridge.synth as s; "
            "heavy = [m for m in ('torch', 'jpype', 'networkx', 'scipy') if m in sys.modules]; "
            "assert not heavy, heavy; s.Phantom")
    subprocess.run([sys.executable, "-c", code], check=True)
