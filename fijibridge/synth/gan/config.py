"""Training configs of the GANs: YAML/JSON → validated pydantic model (no torch).

A config has the sections ``model``, ``data``, ``network``, ``loss``, ``training``
and ``output``; each is a pydantic model with ``extra="forbid"``, so a misspelt key
is an error that names it, the section and the allowed keys.  Relative paths are
resolved against the config file's folder.

Example (the config of the shipped ``models/pix2pix_nuclei2d``)::

    model: pix2pix
    seed: 0
    data:
      images: sample:hela          # TIFF file, folder of TIFFs, or sample:NAME
      masks: sample:hela_mask      # same, or phantom:nuclei / phantom:golgi (CycleGAN)
      indices: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
      patch_size: [128, 128]
    network: {features: 32, depth: 5}
    training: {steps: 3000, batch_size: 4, max_minutes: 18}
    output: {dir: runs/pix2pix_nuclei2d}
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..._core.config import explain_validation_error, read_config_file
from ..._core.execution import device_field
from ..._core.options import did_you_mean

__all__ = ["GanConfig", "load_config", "parse_config", "MODELS", "PHANTOM_MASKS"]

#: trainable GANs
MODELS = ("pix2pix", "vox2vox", "cyclegan")
#: synthetic mask sources for ``data.masks: phantom:KIND`` (CycleGAN domain B)
PHANTOM_MASKS = ("nuclei", "golgi")


#: a config's device: checked when the file is read
DeviceName = device_field()

class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataSection(_Section):
    """Where the pairs (pix2pix, Vox2Vox) or the two domains (CycleGAN) come from."""

    images: str = Field(..., description="TIFF file (a stack is one sample per frame), "
                                          "folder of TIFFs, or sample:NAME")
    masks: str = Field(..., description="same forms, or phantom:nuclei / phantom:golgi")
    indices: Optional[list[int]] = Field(None, description="frames/files used for training")
    mask_classes: int = Field(1, ge=1, description="foreground classes of the masks; 1 "
                                                   "binarises instance labels")
    low_percentile: float = Field(0.1, ge=0, lt=100)
    high_percentile: float = Field(99.9, gt=0, le=100)
    patch_size: list[int] = Field([128, 128], min_length=2, max_length=3)
    foreground_patches: float = Field(0.9, ge=0, le=1,
                                      description="fraction of patches that must hold foreground")
    augment: bool = True
    phantom_count: int = Field(16, ge=1)
    phantom_shape: list[int] = Field([256, 256], min_length=2, max_length=3)
    phantom_spacing: float = Field(0.25, gt=0, description="µm per pixel of phantom masks")

    @field_validator("patch_size", "phantom_shape")
    @classmethod
    def _positive(cls, v):
        if any(s < 8 for s in v):
            raise ValueError(f"sizes must be >= 8; got {v}")
        return v


class NetworkSection(_Section):
    features: int = Field(32, ge=1)
    depth: int = Field(4, ge=2, le=8, description="U-Net levels (pix2pix, Vox2Vox)")
    norm: Optional[Literal["batch", "instance", "none"]] = Field(
        None, description="default: batch for U-Nets (tiling-safe), instance for CycleGAN")
    dropout: bool = True
    n_blocks: int = Field(6, ge=0, description="residual blocks (CycleGAN)")
    disc_features: Optional[int] = Field(None, ge=1)
    disc_layers: int = Field(3, ge=1)


class LossSection(_Section):
    l1_weight: float = Field(100.0, ge=0)
    dice_weight: float = Field(0.0, ge=0, description="Vox2Vox Dice term (image → mask)")
    gan_mode: Optional[Literal["vanilla", "lsgan"]] = None
    cycle_weight: float = Field(10.0, ge=0)
    identity_weight: float = Field(0.5, ge=0)
    pool_size: int = Field(50, ge=0)


class TrainingSection(_Section):
    steps: int = Field(1000, ge=1)
    batch_size: int = Field(4, ge=1)
    lr: float = Field(2e-4, gt=0)
    device: DeviceName = "auto"
    num_threads: Optional[int] = Field(None, ge=1, description="torch CPU threads")
    max_minutes: Optional[float] = Field(None, gt=0, description="stop (and save) after this")
    checkpoint_every: int = Field(250, ge=1)
    sample_every: int = Field(250, ge=1)
    log_every: int = Field(10, ge=1)
    progress: bool = Field(True, description="show the steps' progress on stderr")


class OutputSection(_Section):
    dir: str = "runs/gan"
    export: Optional[str] = Field(None, description="also write the generator here (.pt)")


class GanConfig(_Section):
    model: Literal["pix2pix", "vox2vox", "cyclegan"]
    seed: int = 0
    direction: Literal["mask_to_image", "image_to_mask"] = "mask_to_image"
    data: DataSection
    network: NetworkSection = NetworkSection()
    loss: LossSection = LossSection()
    training: TrainingSection = TrainingSection()
    output: OutputSection = OutputSection()
    base_dir: str = "."

    @property
    def spatial_dims(self) -> int:
        if self.model == "pix2pix":
            return 2
        if self.model == "vox2vox":
            return 3
        return len(self.data.patch_size)

    def path(self, p) -> Path:
        """``p`` resolved against the config file's folder."""
        p = Path(p)
        return (p if p.is_absolute() else Path(self.base_dir) / p).resolve()

    def to_dict(self) -> dict:
        d = self.model_dump()
        d.pop("base_dir")
        return d


_SECTIONS = {"": GanConfig, "data": DataSection, "network": NetworkSection,
             "loss": LossSection, "training": TrainingSection, "output": OutputSection}


def parse_config(data, *, base_dir=".", model: str | None = None) -> GanConfig:
    """Validate a config mapping; ValueError names each bad key and the allowed ones.

    ``model`` (from the command line) fills ``model`` when the file leaves it out and
    must agree with it otherwise.
    """
    if not isinstance(data, dict):
        raise ValueError(f"a GAN training config must be a mapping of sections; "
                         f"got {type(data).__name__}")
    data = dict(data)
    if "base_dir" in data:
        raise ValueError("'base_dir' is set from the config file's location; remove it")
    if model is not None:
        if data.setdefault("model", model) != model:
            raise ValueError(f"the config trains model {data['model']!r} but {model!r} was asked "
                             f"for; change 'model' in the config or the command")
    try:
        cfg = GanConfig(**data, base_dir=str(base_dir))
    except ValidationError as e:
        raise ValueError(explain_validation_error(e, _SECTIONS,
                                                  title="invalid GAN training config")) from None
    sd = cfg.spatial_dims
    if len(cfg.data.patch_size) != sd:
        raise ValueError(f"data.patch_size must have {sd} values for {cfg.model}; "
                         f"got {cfg.data.patch_size}")
    if cfg.data.low_percentile >= cfg.data.high_percentile:
        raise ValueError(f"data.low_percentile ({cfg.data.low_percentile}) must be below "
                         f"data.high_percentile ({cfg.data.high_percentile})")
    if cfg.data.images.startswith("phantom:"):
        raise ValueError("data.images cannot be phantom:…; phantoms give masks (data.masks)")
    if cfg.data.masks.startswith("phantom:"):
        kind = cfg.data.masks.split(":", 1)[1]
        if cfg.model != "cyclegan":
            raise ValueError(f"data.masks {cfg.data.masks!r}: phantom masks have no paired "
                             f"images; they serve CycleGAN only (model: cyclegan)")
        if kind not in PHANTOM_MASKS:
            raise ValueError(f"unknown phantom mask kind {kind!r} in data.masks; allowed: "
                             f"{', '.join(PHANTOM_MASKS)}.{did_you_mean(kind, PHANTOM_MASKS)}")
        if len(cfg.data.phantom_shape) != sd:
            raise ValueError(f"data.phantom_shape must have {sd} values; "
                             f"got {cfg.data.phantom_shape}")
    return cfg


def load_config(path, *, model: str | None = None) -> GanConfig:
    """Read and validate a YAML (``.yml``/``.yaml``) or JSON GAN training config."""
    path = Path(path)
    return parse_config(read_config_file(path), base_dir=path.resolve().parent, model=model)
