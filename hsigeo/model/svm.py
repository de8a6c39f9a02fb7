"""A per-pixel RBF support vector machine whose probabilities are computed in torch.

scikit-learn (libsvm) fits it; what it learned is kept as plain arrays (support vectors,
one-vs-one dual coefficients, intercepts, the Platt sigmoid of each class pair, the kernel
width), so a model file needs no pickle and inference needs no scikit-learn: the kernel, the
pairwise decision values, their Platt probabilities and the pairwise coupling into class
probabilities (Wu, Lin and Weng 2004, the method libsvm uses) are evaluated here with torch.
The probabilities agree with :meth:`sklearn.svm.SVC.predict_proba` to libsvm's own tolerance
(tested); the coupling is solved exactly as the small linear system it is, where libsvm
iterates to a tolerance.

:func:`fit_svm` chooses ``C`` and ``gamma`` by stratified cross-validation on the training
pixels only, like the benchmark's SVM baseline, and records the cross-validated accuracy.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from hsigeo.errors import InvalidInputError, LabelError

__all__ = ["KernelSVM", "fit_svm", "SVM_C_GRID", "SVM_GAMMA_FACTORS"]

#: Candidate penalties ``C`` (the benchmark baseline's grid).
SVM_C_GRID: tuple[float, ...] = (1.0, 10.0, 100.0, 1000.0)
#: Candidate kernel widths, as multiples of ``1 / n_bands`` (``gamma="scale"`` for standardised bands).
SVM_GAMMA_FACTORS: tuple[float, ...] = (0.1, 1.0, 10.0)
# libsvm clips pairwise probabilities away from 0 and 1 before coupling them
_MIN_PROB = 1e-7


@dataclass
class KernelSVM:
    """A fitted one-vs-one RBF SVM with Platt-scaled pairwise probabilities.

    Attributes
    ----------
    support_vectors
        ``(S, B)`` float32, in the input space the model was fitted on.
    coef
        ``(S, P)`` float32: each support vector's dual coefficient in each class pair's
        decision function (0 where it is not in the pair), ``P = C (C - 1) / 2``.
    intercept
        ``(P,)`` float32 decision-function offsets.
    prob_a, prob_b
        ``(P,)`` Platt parameters: ``P(first | pair) = 1 / (1 + exp(a * d + b))``.
    gamma
        RBF width: ``K(x, s) = exp(-gamma |x - s|^2)``.
    n_classes
        Number of classes; pairs are ``(0, 1), (0, 2), ..., (C - 2, C - 1)``.
    info
        What fitting chose (``C``, ``gamma``, cross-validated accuracy, folds); JSON-able.
    """

    support_vectors: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    prob_a: np.ndarray
    prob_b: np.ndarray
    gamma: float
    n_classes: int
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.support_vectors = np.ascontiguousarray(self.support_vectors, dtype=np.float32)
        self.coef = np.ascontiguousarray(self.coef, dtype=np.float32)
        for name in ("intercept", "prob_a", "prob_b"):
            setattr(self, name, np.ascontiguousarray(getattr(self, name), dtype=np.float32).reshape(-1))
        n_pairs = self.n_classes * (self.n_classes - 1) // 2
        s = self.support_vectors.shape[0]
        if self.n_classes < 2 or self.support_vectors.ndim != 2 or self.coef.shape != (s, n_pairs) \
                or any(getattr(self, k).shape != (n_pairs,) for k in ("intercept", "prob_a", "prob_b")):
            raise InvalidInputError(
                f"inconsistent SVM arrays: {s} support vectors, coef {self.coef.shape}, intercept "
                f"{self.intercept.shape}, Platt {self.prob_a.shape}/{self.prob_b.shape} for {self.n_classes} classes")
        if not (np.isfinite(self.gamma) and self.gamma > 0):
            raise InvalidInputError(f"SVM gamma must be a positive number, got {self.gamma}")
        self._torch: dict[str, torch.Tensor] = {}

    @property
    def n_features(self) -> int:
        """Input features (bands) per pixel."""
        return int(self.support_vectors.shape[1])

    @property
    def n_parameters(self) -> int:
        """Stored fitted values: support vectors, dual coefficients, intercepts and Platt parameters."""
        s = self.support_vectors.shape[0]
        # each support vector has C - 1 non-zero coefficients (libsvm's dual_coef_ layout)
        return int(self.support_vectors.size + s * (self.n_classes - 1) + 3 * self.intercept.size)

    def _tensors_on(self, device: torch.device) -> dict[str, torch.Tensor]:
        key = str(device)
        if key not in self._torch:
            sv = torch.from_numpy(self.support_vectors).to(device)
            self._torch[key] = {"sv": sv, "sv2": (sv * sv).sum(1), "coef": torch.from_numpy(self.coef).to(device),
                                "b": torch.from_numpy(self.intercept).to(device),
                                "a": torch.from_numpy(self.prob_a).to(device),
                                "pb": torch.from_numpy(self.prob_b).to(device)}  # type: ignore[assignment]
        return self._torch[key]  # type: ignore[return-value]

    def decision(self, x: torch.Tensor) -> torch.Tensor:
        """Pairwise decision values ``(N, P)`` of pixels ``x`` ``(N, B)`` (positive: the pair's first class)."""
        t = self._tensors_on(x.device)
        x = x.float()
        d2 = (x * x).sum(1, keepdim=True) + t["sv2"][None, :] - 2.0 * (x @ t["sv"].t())
        k = torch.exp(-self.gamma * d2.clamp_min(0.0))
        return k @ t["coef"] + t["b"]

    def proba(self, x: torch.Tensor, *, batch_size: int = 16384) -> torch.Tensor:
        """Class probabilities ``(N, C)`` of pixels ``x`` ``(N, B)``, in batches of ``batch_size``."""
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise InvalidInputError(f"the SVM needs (pixels, {self.n_features}) input, got {tuple(x.shape)}")
        out = [self._couple(self.decision(x[i:i + batch_size])) for i in range(0, x.shape[0], max(1, batch_size))]
        return torch.cat(out) if out else torch.zeros((0, self.n_classes), dtype=torch.float32, device=x.device)

    def _couple(self, dec: torch.Tensor) -> torch.Tensor:
        """Pairwise coupling: class probabilities from the pairs' Platt probabilities.

        With ``r_ij = P(i | i or j)``, the probabilities minimise ``sum_ij (r_ji p_i - r_ij p_j)^2``
        subject to summing to 1 (Wu, Lin and Weng 2004, method 2); the minimiser solves
        ``[Q 1; 1' 0] [p; b] = [0; 1]`` with ``Q_tt = sum_j r_jt^2`` and ``Q_tj = -r_jt r_tj``.
        """
        t = self._tensors_on(dec.device)
        r = torch.sigmoid(-(dec * t["a"] + t["pb"])).clamp(_MIN_PROB, 1.0 - _MIN_PROB).double()
        k, n = self.n_classes, dec.shape[0]
        if k == 2:
            return torch.stack([r[:, 0], 1.0 - r[:, 0]], dim=1).float()
        first, second = np.triu_indices(k, 1)
        rm = torch.zeros((n, k, k), dtype=torch.float64, device=dec.device)
        rm[:, first, second] = r  # rm[i, j] = P(i | i or j)
        rm[:, second, first] = 1.0 - r
        q = -rm.transpose(1, 2) * rm  # Q_tj = -r_jt r_tj
        diag = (rm.transpose(1, 2) ** 2).sum(2) - torch.diagonal(rm, dim1=1, dim2=2) ** 2
        q[:, range(k), range(k)] = diag
        a = torch.zeros((n, k + 1, k + 1), dtype=torch.float64, device=dec.device)
        a[:, :k, :k] = q
        a[:, :k, k] = 1.0
        a[:, k, :k] = 1.0
        rhs = torch.zeros((n, k + 1, 1), dtype=torch.float64, device=dec.device)
        rhs[:, k] = 1.0
        p = torch.linalg.solve(a, rhs)[:, :k, 0].clamp_min(0.0)
        return (p / p.sum(1, keepdim=True).clamp_min(1e-30)).float()

    # ------------------------------------------------------------------ #
    # Model files (safetensors + JSON)
    # ------------------------------------------------------------------ #
    def tensors(self, prefix: str = "svm.") -> dict[str, torch.Tensor]:
        """The arrays as named tensors for a safetensors file."""
        return {prefix + k: torch.from_numpy(np.ascontiguousarray(getattr(self, k)))
                for k in ("support_vectors", "coef", "intercept", "prob_a", "prob_b")}

    def to_dict(self) -> dict[str, Any]:
        """The scalars and the fitting record (JSON)."""
        return {"gamma": float(self.gamma), "n_classes": int(self.n_classes),
                "n_support": int(self.support_vectors.shape[0]), "info": self.info}

    @classmethod
    def from_parts(cls, meta: dict[str, Any], tensors: dict[str, torch.Tensor], prefix: str = "svm.") -> KernelSVM:
        """Rebuild from :meth:`to_dict` and :meth:`tensors` (shapes are checked in ``__post_init__``)."""
        arrays = {k: tensors[prefix + k].float().numpy() for k in
                  ("support_vectors", "coef", "intercept", "prob_a", "prob_b")}
        return cls(**arrays, gamma=float(meta["gamma"]), n_classes=int(meta["n_classes"]),
                   info=dict(meta.get("info") or {}))

    @classmethod
    def from_sklearn(cls, svc: Any, n_classes: int, class_index: np.ndarray, info: dict[str, Any]) -> KernelSVM:
        """Convert a fitted ``sklearn.svm.SVC(kernel="rbf", probability=True)``.

        ``class_index`` maps the SVC's ``classes_`` (sorted labels) to the model's class order; the
        model's classes without training pixels never win (their pairs always favour the other class).
        """
        sv = np.asarray(svc.support_vectors_, dtype=np.float64)
        ks = len(svc.classes_)
        starts = np.concatenate([[0], np.cumsum(svc.n_support_)])
        dual = np.asarray(svc.dual_coef_, dtype=np.float64)
        # pairwise decision values, probabilities of the SVC's own class pairs
        pairs = [(i, j) for i in range(ks) for j in range(i + 1, ks)]
        own_coef = np.zeros((sv.shape[0], len(pairs)))
        for p, (i, j) in enumerate(pairs):
            own_coef[starts[i]:starts[i + 1], p] = dual[j - 1, starts[i]:starts[i + 1]]
            own_coef[starts[j]:starts[j + 1], p] = dual[i, starts[j]:starts[j + 1]]
        own_b = np.asarray(svc.intercept_, dtype=np.float64)
        own_a, own_pb = np.asarray(svc.probA_, np.float64), np.asarray(svc.probB_, np.float64)
        if ks == 2:  # scikit-learn flips the sign of a binary SVC's public coefficients
            own_coef, own_b = -own_coef, -own_b
        # onto the model's classes: pair (u, v) of model classes, u < v
        cls_idx = np.asarray(class_index)
        pos = {int(c): k for k, c in enumerate(cls_idx)}
        k_all = int(n_classes)
        all_pairs = [(u, v) for u in range(k_all) for v in range(u + 1, k_all)]
        coef = np.zeros((sv.shape[0], len(all_pairs)))
        b, a, pb = np.zeros(len(all_pairs)), np.zeros(len(all_pairs)), np.zeros(len(all_pairs))
        for q, (u, v) in enumerate(all_pairs):
            if u in pos and v in pos:
                i, j = pos[u], pos[v]
                p = pairs.index((min(i, j), max(i, j)))
                sign = 1.0 if i < j else -1.0
                coef[:, q], b[q], a[q], pb[q] = sign * own_coef[:, p], sign * own_b[p], own_a[p], own_pb[p]
            else:  # an untrained class loses every pair: a constant, confident decision
                b[q] = 1.0 if u in pos else -1.0
                a[q], pb[q] = -20.0, 0.0
        return cls(sv.astype(np.float32), coef, b, a, pb, float(svc._gamma), k_all, info=info)


def fit_svm(x: np.ndarray, y: np.ndarray, n_classes: int, *, seed: int = 0,
            C_grid: Sequence[float] = SVM_C_GRID, gamma_factors: Sequence[float] = SVM_GAMMA_FACTORS,
            cv: int = 3) -> KernelSVM:
    """Fit an RBF SVM on pixels ``x`` ``(N, B)`` with class indices ``y`` ``(N,)`` in ``0..n_classes-1``.

    ``C`` and ``gamma`` (``factor / B``) are chosen by stratified ``cv``-fold cross-validation on
    these pixels (fewer folds when the smallest class has fewer pixels; no search when a class has
    a single pixel: then the grid's middle values), then the SVM is refitted on all of them with
    Platt probabilities.  ``info`` records the choice and the cross-validated accuracy.

    Raises
    ------
    LabelError
        With fewer than two classes among the pixels.
    """
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.svm import SVC

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    present, idx = np.unique(y, return_inverse=True)
    if present.size < 2:
        raise LabelError("the SVM needs training pixels of at least two classes.")
    gammas = [float(f) / x.shape[1] for f in gamma_factors]
    smallest = int(np.bincount(idx).min())
    folds = min(int(cv), smallest)
    info: dict[str, Any] = {"n_train": int(x.shape[0]), "C_grid": [float(c) for c in C_grid],
                            "gamma_factors": [float(g) for g in gamma_factors]}
    if folds >= 2 and len(C_grid) * len(gammas) > 1:
        search = GridSearchCV(SVC(kernel="rbf"), {"C": [float(c) for c in C_grid], "gamma": gammas},
                              cv=StratifiedKFold(folds, shuffle=True, random_state=seed), n_jobs=1)
        search.fit(x, idx)
        c, g = float(search.best_params_["C"]), float(search.best_params_["gamma"])
        info.update(cv_folds=folds, cv_accuracy=float(search.best_score_))
    else:
        c, g = float(list(C_grid)[len(C_grid) // 2]), gammas[len(gammas) // 2]
        info.update(cv_folds=0, cv_accuracy=None)
    info.update(C=c, gamma=g)
    with warnings.catch_warnings():
        # scikit-learn 1.9 announces the end of probability=True (1.11; pyproject pins below it); a user
        # need not read that on every `hsigeo train`
        warnings.filterwarnings("ignore", category=FutureWarning, message=".*(probability|probA_|probB_).*")
        svc = SVC(kernel="rbf", C=c, gamma=g, probability=True, random_state=seed).fit(x, idx)
        return KernelSVM.from_sklearn(svc, n_classes, present, info)
