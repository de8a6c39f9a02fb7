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

from hsigeo.errors import InvalidInputError, LabelError, NotFittedError

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
        Training options, any field of the option groups of
        :class:`~hsigeo.model.training.TrainConfig` or of its backbone, flat (``epochs``, ``lr``,
        ``loss``, ``seed``, ``width``, ``depth``...).
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
        from hsigeo.model.training import TrainConfig, train
        from hsigeo.text.prompts import PromptSet, load_prompts

        # parameters are checked here, before any data is read (scikit-learn's convention)
        TrainConfig.from_options(**self._config).validate(who="HsigeoClassifier parameter")
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

    def __sklearn_is_fitted__(self) -> bool:
        """Whether a model is there (scikit-learn's ``check_is_fitted`` asks this)."""
        return getattr(self, "model_", None) is not None

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's description of the estimator (``check_is_fitted`` and ``get_tags`` read it).

        A classifier of ``(band, y, x)`` cubes (not of scikit-learn's 2-D tables), NaN allowed
        (nodata), fitted by :meth:`fit`.
        """
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(), non_deterministic=self.device != "cpu",
                    input_tags=InputTags(two_d_array=False, three_d_array=True, allow_nan=True))

    # ------------------------------------------------------------------ #
    # Pickling (joblib.dump, copy.deepcopy, multiprocessing)
    # ------------------------------------------------------------------ #
    def __getstate__(self) -> dict[str, Any]:
        """The parameters, plus the fitted model as its model file's bytes (safetensors + JSON).

        Torch modules, locks and caches are never pickled: the model file is the state, so an
        unpickled estimator is the one :func:`load_model` would give, with its full training
        report.  A :class:`~hsigeo.text.encoder.TextEncoder` parameter is kept as its folder.
        """
        text_model = self.text_model
        if text_model is not None and not isinstance(text_model, (str, os.PathLike)):
            path = getattr(text_model, "model_path", None)
            text_model = None if path is None else str(path)
        state: dict[str, Any] = {"device": self.device, "text_model": text_model, "progress": self.progress,
                                 "config": dict(self._config)}
        if self.__sklearn_is_fitted__():
            from hsigeo.model.modelfile import model_bytes

            state["model_file"] = model_bytes(self.model_)
            state["report"] = getattr(self, "report_", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.device, self.text_model, self.progress = state["device"], state["text_model"], state["progress"]
        self._config = dict(state["config"])
        if state.get("model_file") is not None:
            from hsigeo.model.modelfile import load_model_bytes

            self._set_model(load_model_bytes(state["model_file"], source="the pickled HsigeoClassifier"))
            report = state.get("report")
            self.report_ = report if report is not None else _report_from_summary(self.model_.report or {})

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
    def from_model(cls, model: Any, *, device: str = "auto") -> HsigeoClassifier:
        """A fitted estimator around a model of any type that maps classes (trained or zero-shot).

        Parameters come from the model's training record; :attr:`report_` is the summary the
        model keeps (``model.report``).
        """
        from hsigeo.model.modelfile import model_type_of
        from hsigeo.model.training import DEFAULTS

        spec = model_type_of(model)
        if not spec.fitted:
            from hsigeo.errors import InvalidTypeError

            raise InvalidTypeError(
                f"a {spec.name} model maps no classes by itself: bind it to a scene and prompts first "
                "(HsigeoClassifier.from_base(scene, prompts), or base.for_scene(scene, prompts)).")
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
        from hsigeo.model.modelfile import load_model as load_file

        if isinstance(scene, (str, os.PathLike)):
            from hsigeo.io.raster import open_hsi

            scene = open_hsi(scene, chunks={"y": 512, "x": 512})
        model = load_file("base").for_scene(scene, prompts, threshold=threshold, radiometry=radiometry)
        return cls.from_model(model, device=device)


def load_model(path: str | os.PathLike, *, device: str = "auto") -> Any:
    """Load a ``.hsigeo`` model file of any type; a model that maps classes comes back as a fitted estimator.

    Trained and zero-shot model files give a fitted :class:`HsigeoClassifier` (the same
    wrapping for both, :meth:`HsigeoClassifier.from_model`).  ``"base"`` (the built-in base
    model) or a base model file gives the :class:`~hsigeo.model.base.BaseModel` itself: it
    maps no classes until bound to a scene and prompts with ``.for_scene`` (or
    :meth:`HsigeoClassifier.from_base`).

    Parameters
    ----------
    path
        The model file (or a folder holding its two members), or ``"base"``.
    device
        Device for inference with the returned estimator.

    Raises
    ------
    ModelFileError
        When the file is missing, corrupt, hostile, foreign or of a newer format.
    """
    from hsigeo.model import modelfile

    model = modelfile.load_model(path)
    if not modelfile.model_type_of(model).fitted:
        return model
    return HsigeoClassifier.from_model(model, device=device)


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
        if set(scene.dims) != {"band", "y", "x"}:
            raise InvalidInputError(f"a scene DataArray has the dims ('band', 'y', 'x'); this one has {scene.dims}. "
                                    "Rename or transpose its dims (da.rename / da.transpose).")
        _check_not_empty(dict(scene.sizes))
        return scene
    arr = np.asarray(scene)
    if arr.ndim != 3:
        raise InvalidInputError(
            f"a scene array has the shape (bands, y, x); this one has {arr.ndim} dimension(s), shape {arr.shape}. "
            "For a single spectrum or a table of pixel spectra use arr.T.reshape(bands, 1, -1) or a "
            "(bands, 1, n) array.")
    _check_not_empty(dict(zip(("band", "y", "x"), arr.shape, strict=True)))
    return arr


def _check_not_empty(sizes: dict[Any, int]) -> None:
    empty = [str(k) for k, n in sizes.items() if n == 0]
    if empty:
        raise InvalidInputError(f"the scene is empty (no {', no '.join(empty)}: sizes {sizes}); "
                                "pass a scene with at least one band and one pixel.")


def _eager_like(scene: xr.DataArray, out: xr.DataArray) -> xr.DataArray:
    """Compute ``out`` when the scene was in memory (eager in, eager out); keep it lazy for dask scenes."""
    return out if scene.chunks is not None else out.compute()
