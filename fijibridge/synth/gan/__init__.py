"""GANs for synthetic data (torch, imported only when a model is built).

* :mod:`fijibridge.synth.gan.pix2pix` — 2D mask → image translation: U-Net
  generator, PatchGAN discriminator, adversarial + L1 loss (Isola et al. 2017).

Work in progress: Vox2Vox, CycleGAN, config-file training, checkpoints and tiling
are not written yet.
"""
