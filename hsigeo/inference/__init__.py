"""Scene-scale inference: tiled streaming over rasters on disk and lazy dask/xarray execution."""
