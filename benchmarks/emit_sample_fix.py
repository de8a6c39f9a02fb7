"""``hsigeo classify`` with the base model's scene sample read by :func:`hsigeo.io.raster.sample_spectra`.

Benchmark-only: measures what the proposed change to ``hsigeo.model.binding.sample_pixels``
(read the regular sample a row window at a time instead of a strided ``isel(...).values``,
which reads the whole scene first) does to ``hsigeo classify``'s peak memory, without
editing the model code.  Usage, under ``/usr/bin/time -v``::

    python benchmarks/emit_sample_fix.py classify GRANULE.nc --prompts p.yaml -o out.tif --threads 1
"""

import sys

import numpy as np

import hsigeo.model.base as base
from hsigeo.io.raster import sample_spectra


def _sample(scene, n, seed):
    """``sample_pixels``' contract: up to ~n finite, non-zero spectra ``(k, B)``."""
    if hasattr(scene, "encoding"):
        flat = sample_spectra(scene, n)
    else:
        a = np.asarray(scene)
        step = max(1, int(np.sqrt(a.shape[1] * a.shape[2] / max(n, 1))))
        flat = a[:, ::step, ::step].reshape(a.shape[0], -1).T.astype(np.float32)
    ok = np.isfinite(flat).all(1) & (np.abs(flat).sum(1) > 0)
    return flat[ok]


base._sample_pixels = _sample
from hsigeo_cli.main import main  # noqa: E402

main(sys.argv[1:])
