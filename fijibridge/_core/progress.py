"""Progress of long work: a tqdm bar on a terminal, plain lines in a log, nothing when quiet.

One helper for every long loop (CLI batches over files, deconvolution iterations, training
steps), so that they behave alike:

- ``stream`` (default ``sys.stderr``) is a terminal: a tqdm bar, redrawn in place;
- ``stream`` is a file or a pipe (a batch job's log, ``2> run.log``): plain lines instead of a
  bar redrawn with carriage returns — one line per item for batches (``every=0``), or at most
  one line every ``every`` seconds (and the last one) for fast iterations such as training
  steps;
- ``enabled=False`` (the commands' ``--quiet``): nothing at all.

Lines look like ``segment: 2/5 image (b.tif) 3.1 s`` and are written to the stream directly
(like the bar, they are the command's progress display, not log records, so they do not
depend on the log level).

Examples
--------
>>> import io
>>> log = io.StringIO()
>>> for name in progress(["a.tif", "b.tif"], desc="segment", unit="image", stream=log,
...                      label=str):
...     pass
>>> [line.split(" ")[:4] for line in log.getvalue().splitlines()]
[['segment:', '1/2', 'image', '(a.tif)'], ['segment:', '2/2', 'image', '(b.tif)']]
"""

from __future__ import annotations

import sys
import time

__all__ = ["Progress", "progress"]


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a file object
        return False


class Progress:
    """Progress display of one loop (holds state: the bar or the time of the last line).

    Parameters
    ----------
    total : int or None
        Number of updates expected (``None``: unknown).
    desc : str
        What is being done (``"segment"``, ``"RL"``, ``"train"``).
    unit : str
        What one update is (``"image"``, ``"it"``, ``"step"``).
    enabled : bool
        ``False``: show nothing (``--quiet``).
    every : float
        Without a terminal: seconds between lines (0: a line per update).
    stream : file, optional
        Where to write (default ``sys.stderr``).
    initial : int
        Updates already done (a resumed training run).
    """

    def __init__(self, total=None, *, desc: str = "", unit: str = "it", enabled: bool = True,
                 every: float = 0.0, stream=None, initial: int = 0):
        if every < 0:
            raise ValueError(f"every must be >= 0 seconds; got {every!r}")
        self.total = None if total is None else int(total)
        self.desc = desc
        self.unit = unit
        self.every = float(every)
        self.stream = sys.stderr if stream is None else stream
        self.done = int(initial)
        self.enabled = bool(enabled)
        self._t0 = time.monotonic()
        self._last_line = None
        self._bar = None
        if self.enabled and _is_terminal(self.stream):
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=desc, unit=unit, initial=self.done,
                             file=self.stream, leave=False, dynamic_ncols=True)

    @property
    def lines(self) -> bool:
        """Whether this display writes plain lines (enabled, and not a terminal)."""
        return self.enabled and self._bar is None

    def update(self, n: int = 1, *, item: str | None = None, **info) -> None:
        """``n`` more updates done; ``item`` names the one just finished (a file), ``info``
        is shown beside it (``loss=0.31``)."""
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None:
            if info:
                self._bar.set_postfix(info, refresh=False)
            self._bar.update(n)
            return
        now = time.monotonic()
        last = self.total is not None and self.done >= self.total
        if self.every and not last and self._last_line is not None \
                and now - self._last_line < self.every:
            return
        self._last_line = now
        of = f"/{self.total}" if self.total is not None else ""
        parts = [f"{self.desc}:" if self.desc else "", f"{self.done}{of}", self.unit]
        if item is not None:
            parts.append(f"({item})")
        parts += [f"{k}={v}" for k, v in info.items()]
        parts.append(f"{now - self._t0:.1f} s")
        self.stream.write(" ".join(p for p in parts if p) + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def progress(iterable, *, total=None, desc: str = "", unit: str = "it", enabled: bool = True,
             every: float = 0.0, stream=None, label=None):
    """Iterate over ``iterable`` showing :class:`Progress`; an update after each item (so the
    line of an item appears when it is done). ``label(item)`` names the item in plain lines."""
    if total is None:
        try:
            total = len(iterable)
        except TypeError:
            total = None
    with Progress(total, desc=desc, unit=unit, enabled=enabled, every=every,
                  stream=stream) as bar:
        for value in iterable:
            yield value
            bar.update(1, item=None if label is None else label(value))
