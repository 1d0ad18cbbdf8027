"""Mask helpers of the GAN data pipeline."""

from __future__ import annotations

import numpy as np

from fijibridge.synth.gan.data import carve_contacts, encode_mask


def test_carve_contacts_cuts_a_seam_only_where_objects_touch():
    labels = np.zeros((12, 20), np.uint16)
    labels[2:10, 2:9] = 1
    labels[2:10, 9:16] = 2      # touches 1 along column 8/9
    labels[0:2, 17:20] = 3      # alone
    out = carve_contacts(labels)
    assert (out[2:10, 8] == 0).all()              # the lower label lost its contact column
    assert (out[2:10, 9:16] == 2).all()           # the higher one is intact
    assert (out[2:10, 2:8] == 1).all() and (out == 3).sum() == 6
    assert (labels[2:10, 8] == 1).all()           # input untouched
    # binary encoding now shows two objects, not one blob
    from scipy import ndimage as ndi

    assert ndi.label(encode_mask(out) > 0)[1] == 3
    assert ndi.label(encode_mask(labels) > 0)[1] == 2
    mask = labels > 0
    assert np.array_equal(carve_contacts(mask), mask)  # a binary mask has no contacts to cut
