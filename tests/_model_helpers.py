"""Small synthetic scenes and tiny models shared by the model tests (numpy only, seeded)."""

from __future__ import annotations

import numpy as np

TINY = dict(stem_dim=16, kernel=3, width=16, heads=2, embed_dim=16, depth=1, epochs=12, batch_size=32,
            min_steps_per_epoch=6, val_fraction=0.0)


def block_scene(*, bands: int = 24, size: int = 36, n_classes: int = 4, noise: float = 0.25,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A (B, H, W) cube of coherent class blocks with distinct smooth spectra plus noise.

    Returns the cube (float32), labels (int, values 1..n_classes, a thin unlabelled border)
    and the wavelengths (nm).
    """
    rng = np.random.default_rng(seed)
    wl = np.linspace(400.0, 2500.0, bands)
    x = np.linspace(0, 1, bands)
    spectra = np.stack([1.0 + 0.5 * np.sin(2 * np.pi * (k + 1) * x / 2 + k) + 0.3 * k * x for k in range(n_classes)])
    # blocks of 6x6 pixels with random classes: every class appears in many places
    cells = rng.integers(0, n_classes, size=(size // 6 + 1, size // 6 + 1))
    cls = np.kron(cells, np.ones((6, 6), dtype=int))[:size, :size]
    cube = spectra[cls].transpose(2, 0, 1) * 1000 + noise * 1000 * rng.standard_normal((bands, size, size))
    labels = cls + 1
    labels[:1, :] = 0
    return cube.astype(np.float32), labels.astype(np.int32), wl


def prompt_set(n_classes: int = 4):
    """A prompt set with values 1..n_classes."""
    from hsigeo.text.prompts import PromptSet

    names = ["water", "forest", "bare soil", "asphalt road", "meadow", "roof"][:n_classes]
    return PromptSet.from_dict({"classes": [{"name": n, "value": i + 1, "prompts": [f"a pixel of {n}"]}
                                            for i, n in enumerate(names)]})


def text_embeddings(n_classes: int = 4, dim: int = 32, seed: int = 0) -> np.ndarray:
    """Random unit text embeddings (stand-in for a text model)."""
    e = np.random.default_rng(seed).standard_normal((n_classes, dim)).astype(np.float32)
    return e / np.linalg.norm(e, axis=1, keepdims=True)
