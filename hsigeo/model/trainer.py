"""The spectral-spatial network's trainer: training in named steps.

:class:`NetworkTrainer` fits the backbone, the text probe and the temperature with a
contrastive loss against the frozen text embeddings of the class prompts.  Its steps are
named methods, in the manner of torchgeo's trainer hooks, so a step can be read, tested or
replaced on its own:

1. :meth:`~NetworkTrainer.setup_data`: pixels per class, the validation hold-out, the
   base-model prior's channels, the standardised, reflect-padded scene (patches are cut on the
   fly from it, so scene edges are handled exactly as at inference);
2. :meth:`~NetworkTrainer.setup_model`: the network (PCA stem), the text anchors, everything
   on the device;
3. :meth:`~NetworkTrainer.configure_optimizer`: AdamW, warm-up + cosine schedule, AMP scaler;
4. per epoch, :meth:`~NetworkTrainer.train_epoch` (:meth:`~NetworkTrainer.next_batch` and
   :meth:`~NetworkTrainer.training_step` per step: eight flips/rotations of the square, a
   small spectral brightness jitter), :meth:`~NetworkTrainer.validation_epoch` and
   :meth:`~NetworkTrainer.select` (the kept epoch, early stopping);
5. :meth:`~NetworkTrainer.finalise`: the kept weights as an
   :class:`~hsigeo.model.classifier.HsigeoModel` and its :class:`TrainReport`.

:meth:`~NetworkTrainer.fit` runs them in that order.  The steps draw from the random streams
in a fixed order, so one seed gives one model.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from hsigeo.device import torch_device
from hsigeo.errors import BandMismatchError, InvalidInputError
from hsigeo.model.batches import augment_patches, gather_patches
from hsigeo.model.classifier import HsigeoModel, HsigeoNet
from hsigeo.model.loss import contrastive_loss
from hsigeo.model.spatial import SpatialFilter
from hsigeo.model.train_data import TrainingData, scene_statistics
from hsigeo.model.train_options import TrainConfig

if TYPE_CHECKING:
    import os

    from hsigeo.text.encoder import TextEncoder
    from hsigeo.text.prompts import PromptSet

__all__ = ["NetworkTrainer", "RunSettings", "TrainReport"]

#: Validation patches scored per forward pass.
_VAL_CHUNK = 1024


@dataclass(frozen=True, eq=False)
class RunSettings:
    """How a training run runs, apart from its hyper-parameters (:class:`TrainConfig`).

    Attributes
    ----------
    text_model, text_embeddings, device, progress
        Where the class anchors come from, where the run computes and whether it reports
        progress: the arguments of these names of :func:`hsigeo.model.training.train`.
    """

    text_model: TextEncoder | str | os.PathLike | None = None
    text_embeddings: np.ndarray | None = None
    device: str = "auto"
    progress: bool = True


@dataclass
class TrainReport:
    """What a training run did.

    Attributes
    ----------
    config
        All hyper-parameters used.
    history
        Per-epoch curves: ``epoch``, ``loss``, ``train_accuracy``, ``val_accuracy`` (NaN without
        validation), ``val_loss``, ``lr``, ``temperature``.
    train_seconds
        Wall-clock training time.
    n_parameters
        ``trainable`` / ``backbone`` / ``probe`` / ``text_model`` / ``total`` counts.
    val_accuracy
        Validation accuracy of the kept weights (None without validation).
    best_epoch
        Epoch whose weights were kept (1-based).
    n_train, n_val
        Training and validation pixels.
    per_class
        ``{value: [train pixels, validation pixels]}``.
    device
        Where it ran.
    """

    config: dict[str, Any]
    history: dict[str, list[float]] = field(default_factory=dict)
    train_seconds: float = 0.0
    n_parameters: dict[str, int] = field(default_factory=dict)
    val_accuracy: float | None = None
    best_epoch: int = 0
    n_train: int = 0
    n_val: int = 0
    per_class: dict[int, list[int]] = field(default_factory=dict)
    device: str = "cpu"
    stopped_early: bool = False

    @property
    def trainable_share(self) -> float:
        """Trainable parameters as a share of all (including the frozen text model)."""
        total = self.n_parameters.get("total") or 0
        return self.n_parameters.get("trainable", 0) / total if total else 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (NaN becomes None)."""
        d = asdict(self)
        d["per_class"] = {str(k): v for k, v in self.per_class.items()}
        d["history"] = {k: [None if isinstance(x, float) and math.isnan(x) else x for x in v]
                        for k, v in self.history.items()}
        d["trainable_share"] = self.trainable_share
        return d

    def summary(self) -> dict[str, Any]:
        """Short JSON-able summary stored in model files (no per-epoch curves)."""
        last = {k: (v[-1] if v else None) for k, v in self.history.items()}
        return {
            "train_seconds": round(self.train_seconds, 2),
            "epochs_run": len(self.history.get("epoch", [])),
            "best_epoch": self.best_epoch,
            "val_accuracy": self.val_accuracy,
            "final_loss": last.get("loss"),
            "final_train_accuracy": last.get("train_accuracy"),
            "n_train": self.n_train,
            "n_val": self.n_val,
            "n_parameters": self.n_parameters,
            "trainable_share": self.trainable_share,
            "device": self.device,
            "config": self.config,
        }


class NetworkTrainer:
    """Trains the spectral-spatial network (``method="net"``) in named steps; :meth:`fit` runs them.

    The steps keep the run's state (the padded scene, the network, the optimiser, the curves)
    on the trainer, as a Lightning module keeps its own; each :meth:`fit` starts a new run.

    Parameters
    ----------
    cfg
        The hyper-parameters (checked here).
    settings
        Text anchors, device and progress (:class:`RunSettings`).
    """

    def __init__(self, cfg: TrainConfig, settings: RunSettings | None = None) -> None:
        self.cfg = cfg.validate()
        self.settings = settings or RunSettings()
        self._new_run()

    def _new_run(self) -> None:
        """Empty curves and no kept epoch yet."""
        self.history: dict[str, list[float]] = {k: [] for k in (
            "epoch", "loss", "train_accuracy", "val_accuracy", "val_loss", "lr", "temperature")}
        self.best = -1.0  # best validation accuracy
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_epoch = 0
        self.since_best = 0
        self.stopped = False

    # ------------------------------------------------------------------ #
    # The run
    # ------------------------------------------------------------------ #
    def fit(self, data: TrainingData) -> tuple[HsigeoModel, TrainReport]:
        """Train on ``data``'s training pixels; the model (best validation epoch, else the last) and its report."""
        t_start = time.perf_counter()
        self._new_run()
        self.setup_data(data)
        self.setup_model()
        self.configure_optimizer()
        bar = None
        if self.settings.progress:
            from hsigeo.progress import Progress

            bar = Progress(self.cfg.optim.epochs, "train", unit="epoch")
        try:
            self.start_sampler()
            for epoch in range(1, self.cfg.optim.epochs + 1):
                loss, accuracy = self.train_epoch()
                val_acc, val_loss = self.validation_epoch()
                self.record(epoch, loss, accuracy, val_acc, val_loss)
                stop = self.select(epoch, val_acc)
                if bar is not None:
                    post = {"loss": loss, "acc": accuracy}
                    if self.va_idx.size:
                        post["val"] = val_acc
                    bar.set_postfix(**post)
                    bar.update(1)
                if stop:
                    self.stopped = True
                    break
        finally:
            if bar is not None:
                bar.close()
        return self.finalise(data.seconds + time.perf_counter() - t_start)

    # ------------------------------------------------------------------ #
    # Data setup
    # ------------------------------------------------------------------ #
    def setup_data(self, data: TrainingData) -> None:
        """Training and validation pixels per class, the prior's channels, the padded standardised scene."""
        cfg = self.cfg
        self.data = data
        values = data.values
        self.rng = np.random.default_rng(cfg.seed)
        flat_idx = np.flatnonzero(data.pool.ravel())
        cls_of = {v: i for i, v in enumerate(values)}
        lab_idx = (np.vectorize(cls_of.get, otypes=[np.int64])(data.labels.ravel()[flat_idx]) if flat_idx.size
                   else flat_idx)
        by_class = {c: flat_idx[lab_idx == c] for c in range(len(values))}
        missing = [data.prompt_set.classes[c].name for c, idx in by_class.items() if idx.size == 0]
        if missing:
            warnings.warn(f"no training pixels for class(es) {missing}; they are learnt only as negatives.",
                          stacklevel=2)
        val = cfg.validation
        self.tr_by, self.va_by = _split_validation(by_class, val.val_fraction, val.min_val_per_class, self.rng)
        self.tr_idx = np.concatenate([self.tr_by[c] for c in self.tr_by])
        self.tr_y = np.concatenate([np.full(self.tr_by[c].size, c) for c in self.tr_by])
        self.va_idx = np.concatenate([self.va_by[c] for c in self.va_by])
        self.va_y = np.concatenate([np.full(self.va_by[c].size, c) for c in self.va_by])

        arr = data.arr
        self.prior = _prior_for(cfg.init, data.source, data.wavelengths, cfg.seed)
        if self.prior is not None:  # the base model's embedding joins the bands as input channels
            arr = np.concatenate([arr.astype(np.float32), self.prior(arr)])
        self.n_channels, self.width = arr.shape[0], arr.shape[2]
        # normalised, reflect-padded scene: edges exactly as at inference
        self.mean, self.std = scene_statistics(arr, data.valid)
        self.bcfg = replace(cfg.backbone, n_bands=arr.shape[0])
        r = self.bcfg.radius
        norm = (arr.astype(np.float32) - self.mean[:, None, None]) / self.std[:, None, None]
        norm[~np.isfinite(norm)] = 0.0
        norm[:, ~data.valid] = 0.0
        self.norm = norm
        self.padded = np.pad(norm, ((0, 0), (r, r), (r, r)), mode="reflect")

    # ------------------------------------------------------------------ #
    # Model setup
    # ------------------------------------------------------------------ #
    def setup_model(self) -> None:
        """The network (stem from the scene's PCA), the text anchors, and the run's tensors on the device."""
        cfg = self.cfg
        dev = self.device = torch_device(self.settings.device)
        self.use_amp = dev.type == "cuda"
        self.amp_dtype = torch.bfloat16 if self.use_amp and torch.cuda.is_bf16_supported() else torch.float16
        torch.manual_seed(cfg.seed)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.text_emb, self.text_info = _text_side(self.data.prompt_set, self.settings.text_model,
                                                   self.settings.text_embeddings)
        net = HsigeoNet(self.bcfg, self.text_emb.shape[1])
        if cfg.stem_init == "pca":
            _pca_init(net, self.norm, self.data.valid, self.rng)
        self.net = net.to(dev)
        self.scene_t = torch.from_numpy(self.padded).to(dev)
        self.text_t = torch.from_numpy(self.text_emb).to(dev)
        self.shift = torch.from_numpy(self.mean / self.std).to(dev)
        self.tr_rows, self.tr_cols, self.tr_lab = self._on_device(self.tr_idx, self.tr_y)
        self.va_rows, self.va_cols, self.va_lab = self._on_device(self.va_idx, self.va_y)
        # any valid pixel of the scene (labelled or not) can lend its patch to border mixing
        self.valid_rows, self.valid_cols, _ = self._on_device(np.flatnonzero(self.data.valid.ravel()), None)

    def _on_device(self, flat: np.ndarray, y: np.ndarray | None) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """Rows, columns (and class indices) of flat pixel indices, as tensors on the run's device."""
        w, dev = self.width, self.device
        lab = None if y is None else torch.from_numpy(y).to(dev)
        return torch.from_numpy(flat // w).to(dev), torch.from_numpy(flat % w).to(dev), lab

    def configure_optimizer(self) -> None:
        """AdamW (decay on matrices only), linear warm-up then cosine decay to 0, the AMP gradient scaler."""
        opt_cfg = self.cfg.optim
        self.n_train = self.tr_idx.size
        self.batch_size = max(1, min(opt_cfg.batch_size, self.n_train))
        self.steps_per_epoch = max(math.ceil(self.n_train / self.batch_size), opt_cfg.min_steps_per_epoch)
        total_steps = max(1, opt_cfg.epochs * self.steps_per_epoch)
        warmup = max(1, int(opt_cfg.warmup_fraction * total_steps))
        self.optimizer = torch.optim.AdamW(_param_groups(self.net, opt_cfg.weight_decay), lr=opt_cfg.lr)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda i: (i + 1) / warmup if i < warmup
            else 0.5 * (1 + math.cos(math.pi * (i - warmup) / max(1, total_steps - warmup)))
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp and self.amp_dtype == torch.float16)

    # ------------------------------------------------------------------ #
    # Batches and steps
    # ------------------------------------------------------------------ #
    def start_sampler(self) -> None:
        """The first shuffle of the training pixels (or, with ``class_balance``, each pixel's draw weight)."""
        self.order = self.rng.permutation(self.n_train)
        self.pos = 0
        self.sample_p = None
        if self.cfg.patches.class_balance:
            per_class = np.bincount(self.tr_y, minlength=len(self.data.values)).astype(np.float64)
            self.sample_p = 1.0 / per_class[self.tr_y]
            self.sample_p /= self.sample_p.sum()

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next batch: augmented patches ``(n, C, s, s)`` and their class indices."""
        patches, bs, dev = self.cfg.patches, self.batch_size, self.device
        if self.sample_p is not None:  # class-balanced draw
            sel = torch.from_numpy(self.rng.choice(self.n_train, bs, p=self.sample_p)).to(dev)
        else:
            if self.pos + bs > self.n_train:  # reshuffle: every sample once per pass
                self.order, self.pos = self.rng.permutation(self.n_train), 0
            sel = torch.from_numpy(self.order[self.pos : self.pos + bs]).to(dev)
            self.pos += bs
        s = self.bcfg.patch_size
        x = gather_patches(self.scene_t, self.tr_rows[sel], self.tr_cols[sel], s)
        if patches.augment:
            other = None
            if patches.border_mix > 0:
                pick = torch.randint(0, self.valid_rows.numel(), (len(sel),), generator=self.gen).to(dev)
                other = gather_patches(self.scene_t, self.valid_rows[pick], self.valid_cols[pick], s)
            x = augment_patches(x, self.gen, jitter=patches.spectral_jitter, noise=patches.noise, shift=self.shift,
                                border_mix=patches.border_mix, other=other)
        return x, self.tr_lab[sel]

    def training_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimiser step on a batch; its loss and logits (detached)."""
        objective = self.cfg.objective
        with torch.autocast(device_type=self.device.type, dtype=self.amp_dtype, enabled=self.use_amp):
            logits = self.net(x, self.text_t)
        loss = contrastive_loss(objective.loss, logits.float(), y, k_hard=objective.k_hard, m_semi=objective.m_semi,
                                generator=self.gen, label_smoothing=objective.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return loss.detach(), logits.detach()

    def train_epoch(self) -> tuple[float, float]:
        """One epoch of :meth:`training_step`; its mean loss and training accuracy."""
        self.net.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for _ in range(self.steps_per_epoch):
            x, y = self.next_batch()
            loss, logits = self.training_step(x, y)
            loss_sum += float(loss) * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
        return loss_sum / seen, correct / seen

    # ------------------------------------------------------------------ #
    # Validation and selection
    # ------------------------------------------------------------------ #
    def validation_epoch(self) -> tuple[float, float]:
        """Validation accuracy and full-softmax loss (NaN, NaN without validation pixels)."""
        rows, cols, lab = self.va_rows, self.va_cols, self.va_lab
        if rows.numel() == 0:
            return float("nan"), float("nan")
        net, s = self.net, self.bcfg.patch_size
        net.eval()
        correct, loss_sum = 0, 0.0
        with torch.inference_mode():
            anchors = net.anchors(self.text_t)
            for i in range(0, rows.numel(), _VAL_CHUNK):
                x = gather_patches(self.scene_t, rows[i : i + _VAL_CHUNK], cols[i : i + _VAL_CHUNK], s)
                logits = net.logits(net.backbone.forward_patches(x), anchors).float()
                y = lab[i : i + _VAL_CHUNK]
                correct += int((logits.argmax(1) == y).sum())
                loss_sum += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
        return correct / rows.numel(), loss_sum / rows.numel()

    def record(self, epoch: int, loss: float, accuracy: float, val_acc: float, val_loss: float) -> None:
        """Append one epoch to the curves of the report."""
        h = self.history
        h["epoch"].append(epoch)
        h["loss"].append(loss)
        h["train_accuracy"].append(accuracy)
        h["val_accuracy"].append(val_acc)
        h["val_loss"].append(val_loss)
        h["lr"].append(float(self.scheduler.get_last_lr()[0]))
        h["temperature"].append(float(self.net.scale().detach()))

    def select(self, epoch: int, val_acc: float) -> bool:
        """Keep this epoch's weights when they validate best; whether to stop early.

        Accuracy only, ties to the later epoch: small validation sets saturate early, and the
        lowest validation loss then picks an under-trained epoch of the cosine schedule.
        Without validation pixels the last epoch is kept.
        """
        if not self.va_idx.size:
            self.best_epoch = epoch
            return False
        if val_acc >= self.best:
            self.best, self.best_epoch, self.since_best = val_acc, epoch, 0
            self.best_state = copy.deepcopy(self.net.state_dict())
        else:
            self.since_best += 1
        patience = self.cfg.validation.patience
        return patience is not None and self.since_best >= patience

    # ------------------------------------------------------------------ #
    # Finalisation
    # ------------------------------------------------------------------ #
    def finalise(self, seconds: float) -> tuple[HsigeoModel, TrainReport]:
        """The kept weights on the CPU as an :class:`HsigeoModel` (with its filter and prior) and the report.

        ``seconds`` is the run's time so far, data setup included (the report's ``train_seconds``).
        """
        cfg, data = self.cfg, self.data
        if self.best_state is not None:
            self.net.load_state_dict(self.best_state)
        net = self.net.cpu().eval()
        spatial = SpatialFilter.optional(cfg.spatial.smooth_radius, cfg.spatial.smooth_tau)
        model = HsigeoModel(net=net, config=self.bcfg, mean=self.mean, std=self.std, classes=list(data.prompt_set.classes),
                            text_embeddings=self.text_emb, wavelengths=data.wavelengths, text_model=self.text_info,
                            spatial=spatial, prior=self.prior)
        values = data.values
        validated = bool(self.va_idx.size)
        report = TrainReport(
            config={**cfg.options(), "fraction": data.fraction, "count": data.count,
                    "steps_per_epoch": self.steps_per_epoch,
                    "init_used": "base" if self.prior is not None else "scratch", "method_used": "net"},
            history=self.history,
            train_seconds=seconds,
            n_parameters=model.n_parameters(),
            val_accuracy=(self.best if validated else None),
            best_epoch=self.best_epoch,
            n_train=int(self.n_train),
            n_val=int(self.va_idx.size),
            per_class={values[c]: [int(self.tr_by[c].size), int(self.va_by[c].size)] for c in range(len(values))},
            device=str(self.device),
            stopped_early=self.stopped,
        )
        model.report = report.summary()
        return model, report


# --------------------------------------------------------------------------- #
# Helpers of the steps
# --------------------------------------------------------------------------- #
def _text_side(prompt_set: PromptSet, text_model: Any,
               text_embeddings: np.ndarray | None) -> tuple[np.ndarray, dict[str, Any]]:
    """Class text embeddings and a description of the text model that made them."""
    from hsigeo.text.prompts import prompt_hash

    if text_embeddings is not None:
        emb = np.asarray(text_embeddings, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[0] != len(prompt_set):
            raise InvalidInputError(f"text_embeddings must be (n_classes={len(prompt_set)}, dim); got {emb.shape}")
        info = {"id": "user-supplied", "path": None, "dim": int(emb.shape[1]), "n_parameters": 0, "combine": "mean",
                "prompt_hash": prompt_hash(prompt_set, "user-supplied")}
        return emb, info
    from hsigeo.text.encoder import TextEncoder, class_embeddings

    encoder = text_model if isinstance(text_model, TextEncoder) else TextEncoder(text_model)
    emb = class_embeddings(prompt_set, encoder, combine="mean")
    info = {"id": encoder.model_id, "path": str(encoder.model_path), "dim": int(encoder.dim),
            "n_parameters": int(encoder.n_parameters), "combine": "mean",
            "prompt_hash": prompt_hash(prompt_set, encoder.model_id)}
    return np.asarray(emb, dtype=np.float32), info


def _split_validation(idx_by_class: dict[int, np.ndarray], val_fraction: float, min_val_per_class: int,
                      rng: np.random.Generator) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Hold out ``val_fraction`` of each class's training pixels, keeping >= 1 for training.

    Validation is all or nothing: when any class with training pixels would give fewer than
    ``min_val_per_class`` validation pixels, no class gives any.  A validation score over a
    handful of pixels is noise, and a validation set that misses classes rewards a model that
    neglects them (the case that showed it, with its figures: README, "The model", Training).
    """
    n_val = {c: int(round(val_fraction * idx.size)) for c, idx in idx_by_class.items()}
    enough = all(n_val[c] >= min_val_per_class and idx.size - n_val[c] >= 1
                 for c, idx in idx_by_class.items() if idx.size)
    train, val = {}, {}
    for c, idx in idx_by_class.items():
        k = n_val[c] if enough else 0
        perm = rng.permutation(idx)
        val[c], train[c] = perm[:k], perm[k:]
    return train, val


def _pca_init(net: HsigeoNet, norm: np.ndarray, valid: np.ndarray, rng: np.random.Generator,
              max_pixels: int = 50_000) -> None:
    """Start the first stem layer as a whitening PCA of the scene's standardised spectra.

    Unsupervised (every valid pixel, no labels): the stem then starts from the directions the
    spectra actually vary along, with noise-dominated directions left out, which matters most
    when only a few labelled pixels are available.
    """
    first = net.backbone.stem[0]
    n_out = first.weight.shape[0]
    pix = norm[:, valid].T  # (n, B), already centred by the scene mean
    if pix.shape[0] > max_pixels:
        pix = pix[rng.choice(pix.shape[0], max_pixels, replace=False)]
    if pix.shape[0] < 2:
        return
    cov = np.cov(pix, rowvar=False).astype(np.float64)
    evals, evecs = np.linalg.eigh(cov)
    order = np.argsort(evals)[::-1]
    k = min(n_out, evals.size)
    evals, evecs = np.maximum(evals[order][:k], 0.0), evecs[:, order][:, :k]
    # whiten, but cap the gain on near-zero-variance directions (pure noise otherwise)
    gain = 1.0 / np.sqrt(evals + 1e-2 * evals[0] + 1e-6)
    weight = np.zeros(tuple(first.weight.shape), dtype=np.float32)
    weight[:k] = (evecs * gain).T
    with torch.no_grad():
        if k < n_out:  # more stem channels than bands: keep the random init on the rest
            weight[k:] = first.weight[k:].numpy()
        first.weight.copy_(torch.from_numpy(weight))
        first.bias.zero_()


def _param_groups(net: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on matrices only: norms, biases, embeddings and the temperature are not shrunk."""
    decay, no_decay = [], []
    for name, p in net.named_parameters():
        (decay if p.ndim >= 2 and "pos" not in name else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _prior_for(init: str, cube: Any, wavelengths: np.ndarray | None, seed: int) -> Any:
    """The base-model prior ``init`` asks for (``None``: the bands only).

    ``"base"`` fails loudly (no wavelengths, no grid coverage); ``"auto"`` falls back to the
    bands only in those cases, since nothing the user asked for is missing.
    """
    from hsigeo.model.prior import base_prior

    if init == "scratch":
        return None
    scene = cube if hasattr(cube, "coords") else None
    if init == "base":
        return base_prior(scene, seed=seed)
    from hsigeo.model.base import shipped_base_path

    if wavelengths is None or not shipped_base_path().is_file():  # wavelengths come from a DataArray's coords
        return None
    try:
        return base_prior(scene, seed=seed)
    except BandMismatchError:  # bands outside 400-2450 nm (thermal, odd units): the bands alone
        return None
