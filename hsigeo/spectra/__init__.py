"""The base model's spectral frame at run time.

- :mod:`~hsigeo.spectra.grid`: the base model's wavelength grid, resampling any sensor's bands
  onto it (with a coverage mask) and per-pixel brightness normalisation.
- :mod:`~hsigeo.spectra.radiometry`: scene-level radiance-to-relative-reflectance normalisation
  (for at-sensor radiance scenes such as the AVIRIS benchmarks).

Split from :mod:`hsigeo.speclib` (the build-time libraries and corpus) so that what runs on
every prompt-only map needs none of the build-time extra.
"""
