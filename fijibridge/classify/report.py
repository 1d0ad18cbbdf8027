"""Plots of a cross-validation report (PNG, matplotlib's Agg canvas, no pyplot state)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._core.atomic import atomic_path

__all__ = ["plot_confusion", "plot_roc", "plot_importance", "plot_pca", "plot_distributions",
           "write_plots"]


def _figure(size):
    from .._core.figures import new_figure

    return new_figure(figsize=size, dpi=100, axes=False)


def _save(fig, path, *, tight: bool = True):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight" if tight else None,
                    metadata={"Software": None})
    return Path(path)


def plot_confusion(report: dict, path, *, unit: str | None = None):
    """Confusion matrix of the pooled out-of-fold predictions.

    ``unit`` names what is counted (``"individuals"``, ``"cells"``): it goes into the
    axis labels and the title, so a matrix of cells is never read as one of people.
    """
    cm = np.asarray(report["confusion_matrix"])
    classes = report["classes"]
    fig = _figure((4 + 0.4 * len(classes), 3.5 + 0.4 * len(classes)))
    ax = fig.add_subplot()
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    what = f" ({unit})" if unit else ""
    ax.set_xlabel(f"predicted{what}")
    ax.set_ylabel(f"true{what}")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center",
                color="white" if v > cm.max() / 2 else "black")
    counted = f"{int(cm.sum())} {unit}, " if unit else ""
    ax.set_title(f"{report['model']}: {counted}accuracy {report['pooled']['accuracy']:.2f}")
    return _save(fig, path)


def plot_roc(report: dict, path):
    """ROC curve(s) of the pooled out-of-fold probabilities."""
    fig = _figure((4.5, 4.5))
    ax = fig.add_subplot()
    for cls, curve in report["roc"].items():
        ax.plot(curve["fpr"], curve["tpr"], label=f"{cls}")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(f"{report['model']}: ROC AUC {report['pooled']['roc_auc']:.2f}")
    ax.legend(loc="lower right")
    return _save(fig, path)


def plot_importance(report: dict, path, *, top: int | None = 20):
    """Horizontal bars of the ``top`` most important features (``None``: all of them;
    the title says when some are left out)."""
    values = report["importance"]["values"]
    ranked = sorted(values.items(), key=lambda kv: kv[1], reverse=True)
    items = ranked[:top][::-1] if top is not None else ranked[::-1]
    fig = _figure((6, 1 + 0.3 * len(items)))
    ax = fig.add_subplot()
    ax.barh([k for k, _ in items], [v for _, v in items])
    ax.set_xlabel(f"importance ({report['importance']['kind']})")
    shown = (f"top {len(items)} of {len(ranked)} features" if len(items) < len(ranked)
             else f"all {len(ranked)} features")
    ax.set_title(f"{report['model']}: {shown}")
    return _save(fig, path)


def _colours(classes):
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
               "#7f7f7f", "#bcbd22", "#17becf"]
    return {c: palette[i % len(palette)] for i, c in enumerate(classes)}


def plot_pca(table, path, *, features, label: str, names: str | None = None,
             unit: str = "row"):
    """Rows of ``table`` (one per individual) on their first two principal components.

    The features are standardised first (as in the classifiers); each point is
    coloured by ``label`` and, with ``names``, annotated with that column; ``unit`` names
    what a row is (``"individual"``) in the title.
    """
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(table[list(features)].to_numpy(float))
    n = min(2, X.shape[0], X.shape[1])
    pca = PCA(n_components=n, random_state=0).fit(X)
    Z = pca.transform(X)
    if n < 2:
        Z = np.column_stack([Z[:, 0], np.zeros(len(Z))])
    ratio = list(pca.explained_variance_ratio_) + [0.0]
    classes = sorted(map(str, table[label].unique()))
    colour = _colours(classes)
    y = table[label].astype(str).to_numpy()
    fig = _figure((5.5, 4.5))
    ax = fig.add_subplot()
    for c in classes:
        sel = y == c
        ax.scatter(Z[sel, 0], Z[sel, 1], color=colour[c], label=f"{c} ({int(sel.sum())})",
                   edgecolor="black", linewidth=0.5)
    if names is not None:
        for (x0, y0), name in zip(Z, table[names].astype(str)):
            ax.annotate(name, (x0, y0), fontsize=6, xytext=(2, 2), textcoords="offset points")
    ax.set_xlabel(f"PC1 ({100 * ratio[0]:.0f} % of variance)")
    ax.set_ylabel(f"PC2 ({100 * ratio[1]:.0f} % of variance)")
    ax.set_title(f"PCA of {len(Z)} {unit}s, {len(features)} standardised features")
    ax.legend(title=label, fontsize=8)
    return _save(fig, path)


def plot_distributions(table, path, *, features, label: str, ncols: int = 4,
                       unit: str = "individual"):
    """One panel per feature: a box per class with one point per row (per ``unit``).

    Every feature in ``features`` gets its panel, in the order given.
    """
    classes = sorted(map(str, table[label].unique()))
    colour = _colours(classes)
    y = table[label].astype(str).to_numpy()
    features = list(features)
    ncols = max(1, min(ncols, len(features)))
    nrows = -(-len(features) // ncols)
    fig = _figure((2.8 * ncols, 2.3 * nrows + 0.6))
    fig.set_dpi(80)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[len(features):]:
        ax.set_visible(False)
    rng = np.random.default_rng(0)  # jitter of the points: the same figure every run
    for ax, f in zip(axes, features):
        values = table[f].to_numpy(float)
        groups = [values[y == c] for c in classes]
        ax.boxplot(groups, showfliers=False, widths=0.5)
        for i, (c, v) in enumerate(zip(classes, groups)):
            ax.scatter(i + 1 + rng.uniform(-0.12, 0.12, len(v)), v, s=12, color=colour[c],
                       edgecolor="black", linewidth=0.3, zorder=3)
        ax.set_xticks(range(1, len(classes) + 1), classes, fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_title(f, fontsize=8)
    fig.suptitle(f"{len(features)} features by {label}; one point per {unit}", fontsize=10,
                 y=1 - 0.15 / (2.3 * nrows + 0.6))
    # fixed spacing: tight_layout measures every text and costs seconds for 30 panels
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.04, top=1 - 0.75 / (2.3 * nrows + 0.6),
                        wspace=0.35, hspace=0.45)
    return _save(fig, path, tight=False)


def write_plots(report: dict, stem) -> dict:
    """Write ``STEM.confusion.png``, ``STEM.roc.png``, ``STEM.importance.png``."""
    stem = Path(stem)
    out = {"confusion": plot_confusion(report, stem.with_name(stem.name + ".confusion.png")),
           "roc": plot_roc(report, stem.with_name(stem.name + ".roc.png")),
           "importance": plot_importance(report, stem.with_name(stem.name + ".importance.png"))}
    return {k: str(v) for k, v in out.items()}
