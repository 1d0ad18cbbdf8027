"""Figures drawn on matplotlib's Agg canvas, without pyplot and without a global backend.

Setting a matplotlib backend in library code changes it for the whole process (a
user's notebook or GUI included); a :class:`matplotlib.figure.Figure` attached to
its own :class:`~matplotlib.backends.backend_agg.FigureCanvasAgg` draws and saves
PNGs with no global state and needs no ``close``.  matplotlib is imported inside.
"""

from __future__ import annotations

__all__ = ["new_figure"]


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize=None, dpi=None, squeeze: bool = True,
               axes: bool = True, **subplots_kw):
    """A Figure on its own Agg canvas, with subplots like :func:`matplotlib.pyplot.subplots`.

    Parameters
    ----------
    nrows, ncols : int
        Grid of axes.
    figsize : (width, height) in inches, optional
    dpi : float, optional
        Default: ``rcParams["figure.dpi"]``, as pyplot.
    squeeze : bool
        As in :func:`~matplotlib.pyplot.subplots`.
    axes : bool
        ``False`` returns the figure alone (no subplots made).

    Returns
    -------
    (fig, ax) as ``plt.subplots`` returns them, or ``fig`` when ``axes=False``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    if not axes:
        return fig
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze, **subplots_kw)
