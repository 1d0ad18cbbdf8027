"""scikit-learn pipelines: scaling, optional PCA, one classifier.

=========  ===========================================================  =============
name       classifier                                                   importance
=========  ===========================================================  =============
``tree``   :class:`~sklearn.tree.DecisionTreeClassifier`                impurity
``logreg`` :class:`~sklearn.linear_model.LogisticRegression`            abs. coefficient
``svm``    :class:`~sklearn.svm.SVC` (RBF kernel), Platt-calibrated     permutation
``forest`` :class:`~sklearn.ensemble.RandomForestClassifier` (100 trees) impurity
=========  ===========================================================  =============

Every pipeline starts with :class:`~sklearn.preprocessing.StandardScaler` (so the
features, in µm, µm² and plain ratios, weigh alike in logreg and SVM) and, with
``pca=N``, a :class:`~sklearn.decomposition.PCA` to ``N`` components.  With PCA the
model-native importances belong to components, not features, so permutation
importance is used instead.
"""

from __future__ import annotations

from .._core.options import check_choice, check_positive

__all__ = ["MODELS", "make_model", "native_importance_kind"]

#: model names accepted by :func:`make_model` and ``--model``
MODELS = ("tree", "logreg", "svm", "forest")


def make_model(model: str, *, pca: int | None = None, rng: int = 0):
    """An unfitted :class:`sklearn.pipeline.Pipeline` ``scale → [pca] → classifier``.

    Parameters
    ----------
    model : {'tree', 'logreg', 'svm', 'forest'}
    pca : int, optional
        Number of principal components kept after scaling (no PCA by default).
    rng : int, optional
        Seed of every random part (tree splits, forest bootstrap, PCA), so that
        results repeat exactly.  The SVM's probabilities come from a sigmoid fitted
        on 3-fold decision values (:class:`~sklearn.calibration.CalibratedClassifierCV`
        with ``ensemble=False``), which is deterministic.

    Examples
    --------
    >>> make_model("forest", pca=3).steps[1][0]
    'pca'
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.decomposition import PCA
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    model = check_choice("model", model, MODELS)
    if not isinstance(rng, int) or isinstance(rng, bool):
        raise TypeError(f"rng must be an integer seed; got {rng!r}")
    steps = [("scale", StandardScaler())]
    if pca is not None:
        pca = check_positive("pca", pca, integer=True)
        steps.append(("pca", PCA(n_components=pca, random_state=rng)))
    clf = {
        "tree": lambda: DecisionTreeClassifier(min_samples_leaf=2, random_state=rng),
        "logreg": lambda: LogisticRegression(max_iter=2000),
        "svm": lambda: CalibratedClassifierCV(SVC(kernel="rbf"), ensemble=False, cv=3),
        "forest": lambda: RandomForestClassifier(n_estimators=100, min_samples_leaf=2,
                                                 random_state=rng, n_jobs=1),
    }[model]()
    steps.append(("clf", clf))
    return Pipeline(steps)


def native_importance_kind(model: str, *, pca: int | None = None) -> str:
    """``'impurity'``, ``'abs_coef'`` or ``'permutation'`` for this model and PCA setting."""
    model = check_choice("model", model, MODELS)
    if pca is not None or model == "svm":
        return "permutation"
    return "abs_coef" if model == "logreg" else "impurity"
