"""Plots of a cross-validation report (PNG, matplotlib's Agg canvas, no pyplot state)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._core.atomic import atomic_path

__all__ = ["plot_confusion", "plot_roc", "plot_importance", "write_plots"]


def _figure(size):
    from .._core.figures import new_figure

    return new_figure(figsize=size, dpi=100, axes=False)


def _save(fig, path):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    return Path(path)


def plot_confusion(report: dict, path):
    """Confusion matrix of the pooled out-of-fold predictions."""
    cm = np.asarray(report["confusion_matrix"])
    classes = report["classes"]
    fig = _figure((4 + 0.4 * len(classes), 3.5 + 0.4 * len(classes)))
    ax = fig.add_subplot()
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center",
                color="white" if v > cm.max() / 2 else "black")
    ax.set_title(f"{report['model']}: accuracy {report['pooled']['accuracy']:.2f}")
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


def plot_importance(report: dict, path, *, top: int = 20):
    """Horizontal bars of the ``top`` most important features."""
    values = report["importance"]["values"]
    items = sorted(values.items(), key=lambda kv: kv[1], reverse=True)[:top][::-1]
    fig = _figure((6, 1 + 0.3 * len(items)))
    ax = fig.add_subplot()
    ax.barh([k for k, _ in items], [v for _, v in items])
    ax.set_xlabel(f"importance ({report['importance']['kind']})")
    return _save(fig, path)


def write_plots(report: dict, stem) -> dict:
    """Write ``STEM.confusion.png``, ``STEM.roc.png``, ``STEM.importance.png``."""
    stem = Path(stem)
    out = {"confusion": plot_confusion(report, stem.with_name(stem.name + ".confusion.png")),
           "roc": plot_roc(report, stem.with_name(stem.name + ".roc.png")),
           "importance": plot_importance(report, stem.with_name(stem.name + ".importance.png"))}
    return {k: str(v) for k, v in out.items()}
