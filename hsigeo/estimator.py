"""An estimator in the scikit-learn style: :class:`HsigeoClassifier` and :func:`load_model`.

::

    import hsigeo

    clf = hsigeo.HsigeoClassifier(epochs=60, seed=0)
    clf.fit(scene, labels, "prompts.yaml")        # -> clf; clf.classes_, clf.report_
    classes = clf.predict(scene)                  # georeferenced DataArray for a DataArray scene
    proba = clf.predict_proba(scene)              # ("class", "y", "x"), sums to 1 over classes
    clf.save("crops.hsigeo")
    clf = hsigeo.load_model("crops.hsigeo")       # a fitted HsigeoClassifier

Configuration goes into the constructor (every option of
:class:`hsigeo.model.training.TrainConfig`, flat: ``epochs=``, ``loss=``,
``width=``...), data into :meth:`HsigeoClassifier.fit`.  The estimator adds no
computation of its own: training is :func:`hsigeo.model.training.train`, and
inference is the engines of :mod:`hsigeo.inference` (the dask engine for
DataArrays, the whole-scene reference for arrays, the tiled engine for files).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from hsigeo.errors import LabelError, NotFittedError

if TYPE_CHECKING:
    from hsigeo.inference.tiled import ClassificationResult
    from hsigeo.model.classifier import HsigeoModel
    from hsigeo.model.training import TrainReport
    from hsigeo.text.encoder import TextEncoder
    from hsigeo.text.prompts import PromptSet

__all__ = ["HsigeoClassifier", "load_model"]

Scene = xr.DataArray | np.ndarray

#: Constructor parameters that are not training options, with their defaults.
_RUN_DEFAULTS: dict[str, Any] = {"device": "auto", "text_model": None, "progress": False}


class HsigeoClassifier:
    """Prompt-anchored hyperspectral classifier with the scikit-learn estimator interface.

    Parameters
    ----------
    device
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda"``; used for
        training and inference.
    text_model
        Frozen text encoder for the prompts: a :class:`~hsigeo.text.encoder.TextEncoder`
        or a local transformers folder (default: the packaged all-MiniLM-L6-v2).
    progress
        Show a progress bar per training epoch.
    **config
        Training options, any field of :class:`~hsigeo.model.training.TrainConfig` or of
        its backbone, flat (``epochs``, ``lr``, ``loss``, ``seed``, ``width``, ``depth``...).
        Unknown names raise :class:`~hsigeo.errors.InvalidTypeError` (a :class:`TypeError`) here,
        not at :meth:`fit`.

    Attributes
    ----------
    model_ : HsigeoModel
        The trained network with its normalisation and class anchors (what the inference
        engines run; :func:`hsigeo.classify_raster` takes it).  With ``method="svm"``,
        ``"ensemble"`` or ``"auto"`` (a training option; ``hsigeo train`` defaults to
        ``"ensemble"``, this class to ``"net"``) it may be a
        :class:`~hsigeo.model.combined.CombinedModel`, which the engines run the same way.
    classes_ : numpy.ndarray
        Class label values, in probability-band order.
    class_names_ : list of str
        Class names, in the same order.
    n_features_in_ : int
        Spectral bands the model takes.
    report_ : TrainReport
        What training did (curves, timings, parameter counts).  For a model from
        :func:`load_model`, the summary stored in the file (no per-epoch curves).
    """

    def __init__(self, *, device: str = "auto", text_model: TextEncoder | str | os.PathLike | None = None,
                 progress: bool = False, **config: Any) -> None:
        from hsigeo.model.training import TrainConfig

        TrainConfig.from_options(**config)  # a misspelt option fails here, not after fit has read the data
        self.device = device
        self.text_model = text_model
        self.progress = progress
        self._config = dict(config)

    # ------------------------------------------------------------------ #
    # Parameters
    # ------------------------------------------------------------------ #
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Every constructor parameter with its current value (training defaults included).

        Parameters
        ----------
        deep
            Accepted for scikit-learn compatibility (there are no nested estimators).
        """
        from hsigeo.model.training import DEFAULTS

        return {"device": self.device, "text_model": self.text_model, "progress": self.progress,
                **DEFAULTS, **self._config}

    def set_params(self, **params: Any) -> HsigeoClassifier:
        """Change constructor parameters; returns ``self``.  Takes effect at the next :meth:`fit`.

        Raises
        ------
        TypeError
            On a name that is not a parameter.
        """
        from hsigeo.model.training import TrainConfig

        config = {k: v for k, v in params.items() if k not in _RUN_DEFAULTS}
        TrainConfig.from_options(**{**self._config, **config})
        self._config.update(config)
        for name in _RUN_DEFAULTS:
            if name in params:
                setattr(self, name, params[name])
        return self

    def __repr__(self) -> str:
        given = {k: getattr(self, k) for k in _RUN_DEFAULTS if getattr(self, k) != _RUN_DEFAULTS[k]}
        given.update(self._config)
        return f"HsigeoClassifier({', '.join(f'{k}={v!r}' for k, v in given.items())})"

    # ------------------------------------------------------------------ #
    # Training
    # ------------------------------------------------------------------ #
    def fit(self, scene: Scene | str | os.PathLike, labels: xr.DataArray | np.ndarray | str | os.PathLike,
            prompts: PromptSet | str | os.PathLike, *, label_field: str | None = None,
            train_mask: np.ndarray | None = None, text_embeddings: np.ndarray | None = None) -> HsigeoClassifier:
        """Train on a scene and its labels; returns ``self``.

        Parameters
        ----------
        scene
            DataArray ``(band, y, x)`` (wavelengths, nodata and ``bad_band`` flags are used),
            an array ``(B, H, W)``, or a raster path (:func:`hsigeo.open_hsi`).
        labels
            Class values ``(y, x)`` on the scene grid, ``0`` = unlabelled (DataArray or array), or
            a label raster / vector file read onto the scene grid (:func:`hsigeo.io.labels.read_labels`).
        prompts
            The classes: a :class:`~hsigeo.text.prompts.PromptSet` or a prompts YAML path.
            Its class order is the output (probability band) order.
        label_field
            Vector labels: the attribute holding the class (value or name).
        train_mask
            Boolean ``(y, x)``: only these labelled pixels train (default: all labelled pixels).
        text_embeddings
            Precomputed class text embeddings ``(C, T)`` instead of running the text model.

        Raises
        ------
        LabelError
            When labels are unusable (values without a class, no labelled valid pixel).
        """
        from hsigeo.model.training import train
        from hsigeo.text.prompts import PromptSet, load_prompts

        prompt_set = prompts if isinstance(prompts, PromptSet) else load_prompts(prompts)
        scene = _open(scene)
        if isinstance(labels, (str, os.PathLike)):
            if not isinstance(scene, xr.DataArray):
                raise LabelError(f"{labels}: reading labels from a file needs a georeferenced scene (a DataArray "
                                 "from hsigeo.open_hsi), not an array; pass the labels as an array instead.")
            from hsigeo.io.labels import read_labels

            labels = read_labels(labels, like=scene, field=label_field, classes=prompt_set)
        model, report = train(scene, labels, prompt_set, train_mask=train_mask, text_model=self.text_model,
                              text_embeddings=text_embeddings, device=self.device, progress=self.progress,
                              **self._config)
        self._set_model(model)
        self.report_ = report
        return self

    def _set_model(self, model: HsigeoModel) -> None:
        self.model_ = model
        self.classes_ = np.asarray([c.value for c in model.classes], dtype=np.int64)
        self.class_names_ = [c.name for c in model.classes]
        self.n_features_in_ = int(model.n_bands)

    def fitted_model(self) -> HsigeoModel:
        """The trained :class:`~hsigeo.model.classifier.HsigeoModel` (what the inference engines run).

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        """
        model = getattr(self, "model_", None)
        if model is None:
            raise NotFittedError("this HsigeoClassifier is not fitted yet; call fit(scene, labels, prompts) "
                                 "or load one with hsigeo.load_model(path).")
        return model

    # ------------------------------------------------------------------ #
    # Inference (delegated to hsigeo.inference)
    # ------------------------------------------------------------------ #
    def predict(self, scene: Scene | str | os.PathLike, *, batch_size: int | None = None) -> Scene:
        """Class values per pixel (``0`` = nodata / invalid pixel).

        Parameters
        ----------
        scene
            DataArray ``(band, y, x)``, array ``(B, H, W)`` or raster path.
        batch_size
            Pixels per forward pass (default: the engine's, by device).

        Returns
        -------
        xarray.DataArray or numpy.ndarray
            For a DataArray (or path): a DataArray ``(y, x)`` named ``classes`` with the scene's
            CRS, transform and coordinates, nodata 0, ``attrs["class_names"]`` and
            ``attrs["class_colours"]``; lazy when the scene is dask-backed.  For an array: an
            array ``(H, W)``.
        """
        from hsigeo.inference.core import classify_array
        from hsigeo.inference.distributed import classify_dataarray

        model, scene = self.fitted_model(), _open(scene)
        if isinstance(scene, xr.DataArray):
            classes = classify_dataarray(scene, model, device=self.device, batch_size=batch_size)
            assert isinstance(classes, xr.DataArray)  # no extras asked for: the class map alone
            return _eager_like(scene, classes)
        model.check_bands(scene)
        return classify_array(scene, model, device=self.device, batch_size=batch_size)[0]

    def predict_proba(self, scene: Scene | str | os.PathLike, *, batch_size: int | None = None) -> Scene:
        """Class probabilities per pixel, summing to 1 over classes (NaN at invalid pixels).

        Returns
        -------
        xarray.DataArray or numpy.ndarray
            ``float32`` ``(class, y, x)`` in :attr:`classes_` order: a georeferenced DataArray
            (coordinates ``class`` = value and ``class_name``) for a DataArray scene, an array
            ``(C, H, W)`` for an array.
        """
        from hsigeo.inference.core import predict_proba_array
        from hsigeo.inference.distributed import classify_dataarray

        model, scene = self.fitted_model(), _open(scene)
        if isinstance(scene, xr.DataArray):
            ds = classify_dataarray(scene, model, probabilities=True, device=self.device, batch_size=batch_size)
            return _eager_like(scene, ds["probabilities"])
        model.check_bands(scene)
        return predict_proba_array(scene, model, device=self.device, batch_size=batch_size)

    def embed(self, scene: Scene | str | os.PathLike, *, batch_size: int | None = None) -> Scene:
        """Unit pixel embeddings in the joint vision-text space (NaN at invalid pixels).

        Returns
        -------
        xarray.DataArray or numpy.ndarray
            ``float32`` ``(embedding, y, x)``: georeferenced DataArray for a DataArray scene,
            array ``(E, H, W)`` for an array.
        """
        from hsigeo.inference.core import embed_array
        from hsigeo.inference.distributed import embed_dataarray

        model, scene = self.fitted_model(), _open(scene)
        if isinstance(scene, xr.DataArray):
            return _eager_like(scene, embed_dataarray(scene, model, device=self.device, batch_size=batch_size))
        model.check_bands(scene)
        return embed_array(scene, model, device=self.device, batch_size=batch_size)

    def predict_raster(self, scene_path: str | os.PathLike, out_path: str | os.PathLike,
                       **kwargs: Any) -> ClassificationResult:
        """Classify a raster file tile by tile into a GeoTIFF (and polygons).

        ``kwargs`` as :func:`hsigeo.inference.tiled.classify_raster` (``confidence_path``,
        ``vector_path``, ``overwrite``...); ``device`` defaults to the estimator's.
        """
        from hsigeo.inference.tiled import classify_raster

        kwargs.setdefault("device", self.device)
        return classify_raster(scene_path, self.fitted_model(), out_path, **kwargs)

    # ------------------------------------------------------------------ #
    # Persistence
    # ------------------------------------------------------------------ #
    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the fitted model to one ``.hsigeo`` file (safetensors + JSON, atomic); returns its path.

        Raises
        ------
        OutputExistsError
            When ``path`` exists and ``overwrite`` is false.
        """
        from hsigeo.model.modelfile import save_model

        return save_model(self.fitted_model(), path, overwrite=overwrite)

    @classmethod
    def from_model(cls, model: HsigeoModel, *, device: str = "auto") -> HsigeoClassifier:
        """A fitted estimator around a trained model; parameters from the model's training record."""
        from hsigeo.model.training import DEFAULTS

        summary = dict(model.report or {})
        recorded = summary.get("config") or {}
        clf = cls(device=device, **{k: v for k, v in recorded.items() if k in DEFAULTS})
        clf._set_model(model)
        clf.report_ = _report_from_summary(summary)
        return clf

    @classmethod
    def from_base(cls, scene: Scene | str | os.PathLike, prompts: Any, *, threshold: float | None = None,
                  radiometry: str = "auto", device: str = "auto") -> HsigeoClassifier:
        """A "fitted" estimator from words alone: the built-in base model bound to a scene's bands and prompts.

        No labels are used (see :meth:`hsigeo.model.base.BaseModel.for_scene`); ``predict``,
        ``predict_proba``, ``predict_raster`` and ``save`` work as after :meth:`fit`, on scenes
        with the same bands.  Pixels below ``threshold`` are class 0 (unknown).

        Parameters
        ----------
        scene
            The scene (DataArray with a ``wavelength`` band coordinate, or a raster path).
        prompts
            A :class:`~hsigeo.text.prompts.PromptSet` or a prompts YAML path.
        threshold, radiometry
            As in :meth:`~hsigeo.model.base.BaseModel.for_scene`.
        device
            Device for inference.
        """
        from hsigeo.model.base import load_base
        from hsigeo.model.training import TrainReport

        if isinstance(scene, (str, os.PathLike)):
            from hsigeo.io.raster import open_hsi

            scene = open_hsi(scene, chunks={"y": 512, "x": 512})
        model = load_base().for_scene(scene, prompts, threshold=threshold, radiometry=radiometry)
        clf = cls(device=device)
        clf._set_model(model)
        clf.report_ = TrainReport(config={"kind": "prompt-only (base model, no labels)", "radiometry": model.radiometry},
                                  train_seconds=0.0,
                                  n_parameters=model.n_parameters(), val_accuracy=None, best_epoch=0, n_train=0,
                                  n_val=0, device="cpu")
        return clf


def load_model(path: str | os.PathLike, *, device: str = "auto") -> Any:
    """Load a ``.hsigeo`` model file as a fitted :class:`HsigeoClassifier`.

    ``"base"`` loads the built-in base model (:class:`~hsigeo.model.base.BaseModel`; bind it
    to a scene and prompts with ``.for_scene``), and a base or zero-shot model file loads as
    such (:func:`hsigeo.model.base.load_base`).

    Parameters
    ----------
    path
        The model file (or a folder holding its two members).
    device
        Device for inference with the returned estimator.

    Raises
    ------
    ModelFileError
        When the file is missing, corrupt, foreign or of a newer format.
    """
    from hsigeo.model import modelfile
    from hsigeo.model.base import is_base_file

    if str(path) == "base" or (os.path.isfile(path) and is_base_file(path)):
        # the built-in base model (or a bound zero-shot file) is not a trained scene model:
        # it comes back as itself; bind it with .for_scene(scene, prompts)
        return modelfile.load_model(path)
    return HsigeoClassifier.from_model(modelfile.load_model(path), device=device)


def _report_from_summary(summary: dict[str, Any]) -> TrainReport:
    """The training report as far as a model file keeps it (no curves, no per-class counts)."""
    from hsigeo.model.training import TrainReport

    return TrainReport(config=dict(summary.get("config") or {}), train_seconds=float(summary.get("train_seconds") or 0),
                       n_parameters=dict(summary.get("n_parameters") or {}), val_accuracy=summary.get("val_accuracy"),
                       best_epoch=int(summary.get("best_epoch") or 0), n_train=int(summary.get("n_train") or 0),
                       n_val=int(summary.get("n_val") or 0), device=str(summary.get("device") or "cpu"))


def _open(scene: Scene | str | os.PathLike) -> Scene:
    """A path becomes its DataArray; a (B, H, W) array-like becomes an ndarray."""
    if isinstance(scene, (str, os.PathLike)):
        from hsigeo.io.raster import open_hsi

        return open_hsi(scene)
    if isinstance(scene, xr.DataArray):
        return scene
    return np.asarray(scene)


def _eager_like(scene: xr.DataArray, out: xr.DataArray) -> xr.DataArray:
    """Compute ``out`` when the scene was in memory (eager in, eager out); keep it lazy for dask scenes."""
    return out if scene.chunks is not None else out.compute()
