"""GANs for synthetic data (torch, imported only when a submodule is imported).

* :mod:`~fijibridge.synth.gan.networks` — :class:`UNetGenerator`,
  :class:`ResNetGenerator`, :class:`PatchDiscriminator` (2D and 3D via
  ``spatial_dims``), :func:`build_network`
* :mod:`~fijibridge.synth.gan.pix2pix` — :class:`Pix2Pix` (2D) and :class:`Vox2Vox`
  (3D): mask → image, adversarial + L1 (+ Dice) (Isola et al. 2017; Cirillo et al. 2021)
* :mod:`~fijibridge.synth.gan.cyclegan` — :class:`CycleGAN`: unpaired image ↔ mask,
  LSGAN, cycle and identity losses, :class:`ImagePool` (Zhu et al. 2017)
* :mod:`~fijibridge.synth.gan.config` — YAML/JSON training configs (pydantic, no torch)
* :mod:`~fijibridge.synth.gan.training` — :func:`train` (checkpoints, resume, sample
  grids, loss curves), :func:`load_generator`
* :mod:`~fijibridge.synth.gan.inference` — :func:`generate_tiled`,
  :func:`generate_from_mask` (overlapping tiles, linear blending)
* :mod:`~fijibridge.synth.gan.data` — sources, intensity scaling, patches, contact seams,
  :func:`edge_profile` (how bright generated edges are vs real ones) (numpy)
* :mod:`~fijibridge.synth.gan.cli` — trainers for ``fijibridge train`` (no torch)

Shipped model: ``models/pix2pix_nuclei2d`` (mask → Fluo-N2DL-HeLa-like nuclei image).
"""
