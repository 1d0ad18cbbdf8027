"""Pipeline steps of the io package: ``channel`` (one channel of an item's image, by name
or index, with its calibration).

In a pipeline::

    - id: mito
      channel: {name: "${channels.mito}"}    # 'MitoTracker', or 1
      inputs: {image: input.image}

A name not in the file fails the item with the names present (``validate`` cannot know
them: they come from each file).
"""

from __future__ import annotations

from .._core.steps import check_param, make_step

__all__ = ["STEPS", "channel"]


def channel(*, image, name):
    """The channel ``name`` (a channel name from the file, or a 0-based index; ``"1"``
    counts as an index) of ``image``; the output keeps the spacing and the channel's
    name.  An image without a ``C`` axis is its own channel 0."""
    return {"image": image.channel(name)}


def _check_channel(p):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise TypeError(f"name must be a channel name (str) or a 0-based index (int); got "
                            f"{v!r}")
        if isinstance(v, int) and v < 0:
            raise ValueError(f"name: a channel index is 0 or more; got {v}")
        if isinstance(v, str) and not v.strip():
            raise ValueError("name: give a channel name or index; got an empty string")

    check_param(p, "name", check)


STEPS = {s.name: s for s in (
    make_step(channel, "image", ("image",), check=_check_channel, images=True),
)}
