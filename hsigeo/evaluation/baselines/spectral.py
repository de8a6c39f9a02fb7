"""Pixel-wise baselines on standardized spectra: RBF support vector machine and random forest.

Both see one pixel's spectrum at a time (no spatial context).  Standardization
is fitted on the training pixels only, inside the scikit-learn pipeline, so the
SVM's cross-validation never sees statistics of the held-out folds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hsigeo.errors import NotFittedError
from hsigeo.evaluation.baselines.interface import as_cube, training_pixels

__all__ = ["SVMBaseline", "RandomForestBaseline", "predict_pixels"]


def predict_pixels(estimator: Any, cube: np.ndarray, *, chunk: int = 65536) -> np.ndarray:
    """Apply a fitted scikit-learn classifier to every pixel of a ``(band, y, x)`` cube.

    Parameters
    ----------
    estimator
        Fitted estimator with ``predict`` taking ``(n, band)`` spectra.
    cube
        ``(band, y, x)`` float array.
    chunk
        Pixels per ``predict`` call, to bound memory on large scenes.

    Returns
    -------
    numpy.ndarray
        ``(y, x)`` int32 class map.
    """
    b, h, w = cube.shape
    flat = cube.reshape(b, -1).T
    out = np.empty(flat.shape[0], dtype=np.int32)
    for start in range(0, flat.shape[0], chunk):
        out[start : start + chunk] = estimator.predict(flat[start : start + chunk])
    return out.reshape(h, w)


class SVMBaseline:
    """RBF-kernel SVM on standardized spectra, ``C``/``gamma`` chosen by CV on the training set.

    Parameters
    ----------
    C_grid
        Candidate values of the penalty ``C``.
    gamma_factors
        Candidate kernel widths as multiples of ``1 / n_bands`` (the usual
        ``gamma="scale"`` for standardized features).
    cv
        Largest number of stratified folds; reduced to the size of the smallest
        class when that is smaller, and the grid search is skipped (first grid
        point, middle ``gamma``) when a class has a single training pixel.
    """

    name = "svm"
    parameter_note = "support vectors x bands + dual coefficients + intercepts (the fitted values it stores)"

    def __init__(
        self,
        *,
        C_grid: Sequence[float] = (1.0, 10.0, 100.0, 1000.0),
        gamma_factors: Sequence[float] = (0.1, 1.0, 10.0),
        cv: int = 3,
    ) -> None:
        self.C_grid = tuple(C_grid)
        self.gamma_factors = tuple(gamma_factors)
        self.cv = cv
        self.best_params_: dict[str, float] = {}
        self._model: Any = None

    def fit(
        self, cube: Any, labels: np.ndarray, train_mask: np.ndarray, *, seed: int, prompts: Any | None = None
    ) -> "SVMBaseline":
        """Grid-search ``C`` and ``gamma`` by stratified CV on the training pixels, then refit on all of them."""
        from sklearn.model_selection import GridSearchCV, StratifiedKFold
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        x, y = training_pixels(as_cube(cube), labels, train_mask)
        gammas = [f / x.shape[1] for f in self.gamma_factors]
        pipe = make_pipeline(StandardScaler(), SVC(kernel="rbf"))
        smallest = int(np.bincount(np.unique(y, return_inverse=True)[1]).min())
        folds = min(self.cv, smallest)
        if folds >= 2 and len(self.C_grid) * len(gammas) > 1:
            search = GridSearchCV(
                pipe,
                {"svc__C": list(self.C_grid), "svc__gamma": gammas},
                cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
                n_jobs=1,  # the machine is shared; parallel folds only add contention
            )
            search.fit(x, y)
            self._model = search.best_estimator_
            self.best_params_ = {"C": search.best_params_["svc__C"], "gamma": search.best_params_["svc__gamma"]}
        else:
            c, g = self.C_grid[len(self.C_grid) // 2], gammas[len(gammas) // 2]
            self._model = pipe.set_params(svc__C=c, svc__gamma=g).fit(x, y)
            self.best_params_ = {"C": c, "gamma": g}
        return self

    @property
    def extras(self) -> dict[str, Any]:
        """The CV-selected ``C`` and ``gamma`` (kept in the benchmark's per-run record)."""
        return dict(self.best_params_)

    def predict(self, cube: Any) -> np.ndarray:
        """Class map of every pixel."""
        if self._model is None:
            raise NotFittedError("SVMBaseline.predict called before fit")
        return predict_pixels(self._model, as_cube(cube))

    @property
    def n_trainable(self) -> int:
        """Stored fitted values: support vectors, dual coefficients, intercepts."""
        if self._model is None:
            return 0
        svc = self._model[-1]
        return int(svc.support_vectors_.size + svc.dual_coef_.size + svc.intercept_.size)


class RandomForestBaseline:
    """Random forest on standardized spectra (standardizing changes nothing for trees but keeps inputs alike).

    Parameters
    ----------
    n_estimators
        Number of trees.
    max_features
        Features tried per split (scikit-learn meaning).
    n_jobs
        Worker processes for fitting and prediction.
    """

    name = "rf"
    parameter_note = "tree nodes: 2 per split (feature, threshold) + class count per leaf"

    def __init__(self, *, n_estimators: int = 200, max_features: str | float = "sqrt", n_jobs: int = 1) -> None:
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.n_jobs = n_jobs
        self._model: Any = None

    def fit(
        self, cube: Any, labels: np.ndarray, train_mask: np.ndarray, *, seed: int, prompts: Any | None = None
    ) -> "RandomForestBaseline":
        """Fit the forest on the training pixels."""
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        x, y = training_pixels(as_cube(cube), labels, train_mask)
        forest = RandomForestClassifier(
            n_estimators=self.n_estimators, max_features=self.max_features, n_jobs=self.n_jobs, random_state=seed
        )
        self._model = make_pipeline(StandardScaler(), forest).fit(x, y)
        return self

    def predict(self, cube: Any) -> np.ndarray:
        """Class map of every pixel."""
        if self._model is None:
            raise NotFittedError("RandomForestBaseline.predict called before fit")
        return predict_pixels(self._model, as_cube(cube))

    @property
    def n_trainable(self) -> int:
        """Split nodes x 2 + leaves x classes, summed over trees."""
        if self._model is None:
            return 0
        forest = self._model[-1]
        total = 0
        for tree in forest.estimators_:
            t = tree.tree_
            leaves = int(np.sum(t.children_left == -1))
            total += 2 * (t.node_count - leaves) + leaves * int(forest.n_classes_)
        return total
