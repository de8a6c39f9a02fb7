"""Loaders for the standard hyperspectral benchmark scenes (GIC, UPV/EHU ``.mat`` files).

The files are never shipped with hsigeo: point at a folder holding them with
``data_dir=``, the ``HSIGEO_DATA_DIR`` environment variable, or keep them in
``../shared/datasets`` beside the project.  Files with a published sha256 are
verified before use.

The scenes have no map coordinates: they get a pixel-grid transform
(1 unit per pixel, north up) and no CRS, which ``attrs["crs_note"]`` states.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine

from hsigeo.errors import DatasetError

__all__ = ["DatasetSpec", "HSIDataset", "DATASETS", "find_data_dir", "load_dataset", "load_labels", "sha256sum",
           "BERLIN_CLASSES", "SpectralLibrary", "load_berlin_library"]

PIXEL_GRID_NOTE = "no CRS: benchmark scene on a pixel grid (x = column + 0.5, y = -(row + 0.5))"


def _aviris_wavelengths(removed_1based: list[range]) -> np.ndarray:
    """Nominal AVIRIS band centres (224 bands, ~400-2500 nm) with the removed bands dropped."""
    centres = np.linspace(400.0, 2500.0, 224)
    drop = {i - 1 for r in removed_1based for i in r}
    return np.array([c for i, c in enumerate(centres) if i not in drop])


@dataclass(frozen=True)
class DatasetSpec:
    """Where a benchmark scene's files are and what they hold."""

    name: str
    cube_file: str
    cube_var: str
    gt_file: str
    gt_var: str
    classes: dict[int, str]
    sha256: dict[str, str] = field(default_factory=dict)
    wavelengths: np.ndarray | None = None
    sensor: str = ""
    prompts: str = ""  # shipped prompt file under hsigeo/data/prompts
    # Other forms of the same cube, tried in order when ``cube_file`` is absent: ``.npy`` files
    # (rows x cols x bands) in the data folder, then the same names in an installed package's data
    # folder given as (package, folder inside it).
    alt_cube_files: tuple[str, ...] = ()
    package_data: tuple[str, str] | None = None
    wavelength_note: str = "nominal band centres (linear over the sensor range), approximate"
    # "mat": GIC MATLAB files; "envi-vector": an ENVI cube (band centres, FWHM and nodata from its
    # header, real map coordinates) and land-cover polygons burnt onto its grid from ``gt_var``
    kind: str = "mat"


_SALINAS_CLASSES = {
    1: "Brocoli_green_weeds_1", 2: "Brocoli_green_weeds_2", 3: "Fallow", 4: "Fallow_rough_plow",
    5: "Fallow_smooth", 6: "Stubble", 7: "Celery", 8: "Grapes_untrained", 9: "Soil_vinyard_develop",
    10: "Corn_senesced_green_weeds", 11: "Lettuce_romaine_4wk", 12: "Lettuce_romaine_5wk",
    13: "Lettuce_romaine_6wk", 14: "Lettuce_romaine_7wk", 15: "Vinyard_untrained", 16: "Vinyard_vertical_trellis",
}
_SALINAS_WL = _aviris_wavelengths([range(108, 113), range(154, 168), range(224, 225)])

# AVIRIS band centres (nm) of the 1992 Indian Pines flight, 200 bands of the "corrected" set (the 220
# recorded bands without 104-108, 150-163 and 220), as listed with the tensorly 0.10.0 copy of the cube.
# The centres step back at the spectrometer overlaps (~690 nm and ~1275 nm), so they are not monotonic.
# That list has 2260.22 and 2270.15 between 2202.30 and 2232.07, inside one spectrometer whose bands
# are ~9.92 nm apart: a digit slip; the in-sequence values 2212.23 and 2222.15 are used here.
_INDIAN_PINES_WL = np.array(
    """
    400.02 409.82 419.62 429.43 439.25 449.07 458.9 468.73 478.57 488.41 498.26 508.12 517.98 527.85 537.72
    547.6 557.49 567.38 577.28 587.18 597.09 607.01 616.93 626.85 636.78 646.72 656.67 666.61 676.57 686.53
    696.5
    686.91 696.55 706.19 715.83 725.47 735.11 744.74 754.38 764.01 773.64 783.27 792.91 802.53 812.21 821.79
    831.41 841.04 850.66 860.28 869.91 879.53 889.14 898.76 908.38 917.99 927.61 937.22 946.83 956.45 966.06
    975.66 985.27 994.88 1004.48 1014.09 1023.69 1033.29 1042.89 1052.49 1062.09 1071.69 1081.29 1090.88
    1100.48 1110.07 1119.66 1129.25 1138.84 1148.43 1158.02 1167.61 1177.19 1186.77 1196.36 1205.94 1215.52
    1225.1 1234.68 1244.26 1253.83 1263.41 1272.98 1282.55
    1273.0 1282.96 1292.93 1302.89 1312.85 1322.81 1332.77 1342.73 1352.68
    1422.34 1432.28 1442.23 1452.17 1462.11 1472.05 1481.99 1491.92 1501.86 1511.79 1521.73 1531.66 1541.59
    1551.52 1561.44 1571.37 1581.3 1591.22 1601.14 1611.06 1620.98 1630.9 1640.81 1650.73 1660.64 1670.56
    1680.47 1690.38 1700.28 1710.19 1720.1 1730.0 1739.9 1749.81 1759.71 1769.6 1779.5 1789.4 1799.29 1809.19
    1819.08
    1953.26 1963.25 1973.24 1983.23 1993.22 2003.2 2013.18 2023.16 2033.13 2043.1 2053.07 2063.04 2073.0
    2082.97 2092.92 2102.88 2112.83 2122.78 2132.73 2142.68 2152.62 2162.56 2172.5 2182.43 2192.37 2202.3
    2212.23 2222.15 2232.07 2241.99 2251.9 2261.82 2271.73 2281.64 2291.54 2301.45 2311.35 2321.25 2331.14
    2341.03 2350.92 2360.81 2370.7 2380.58 2390.46 2400.33 2410.21 2420.08 2429.95 2439.81 2449.68 2459.54
    2469.4 2479.25 2489.11 2498.96
    """.split(),
    dtype=np.float64,
)

DATASETS: dict[str, DatasetSpec] = {
    "indian-pines": DatasetSpec(
        "indian-pines", "Indian_pines_corrected.mat", "indian_pines_corrected", "Indian_pines_gt.mat", "indian_pines_gt",
        {1: "Alfalfa", 2: "Corn-notill", 3: "Corn-mintill", 4: "Corn", 5: "Grass-pasture", 6: "Grass-trees",
         7: "Grass-pasture-mowed", 8: "Hay-windrowed", 9: "Oats", 10: "Soybean-notill", 11: "Soybean-mintill",
         12: "Soybean-clean", 13: "Wheat", 14: "Woods", 15: "Buildings-Grass-Trees-Drives", 16: "Stone-Steel-Towers"},
        sha256={
            "Indian_pines_corrected.mat": "ec2f8808710919d566f70f0d4aa885aae1ddfd42b734aba71c5e12ca65450939",
            "Indian_pines_gt.mat": "65c4687a8ab04f6da4789799bc3bc4f6e88bccac3ed6a2e6ae367e5e6b9e429c",
            # the copy shipped inside the tensorly 0.10.0 wheel (same 200 bands, NumPy format)
            "Indian_pines_corrected.npy": "8f038e4d81569e38ebfc72a15c9984c150de42580ab260be10a13442e912e451",
        },
        wavelengths=_INDIAN_PINES_WL,
        sensor="AVIRIS", prompts="indian_pines.yaml",
        alt_cube_files=("Indian_pines_corrected.npy",),
        package_data=("tensorly", "datasets/data"),
        wavelength_note="AVIRIS band centres of the 1992 flight (not monotonic at the spectrometer overlaps)",
    ),
    "pavia-university": DatasetSpec(
        "pavia-university", "PaviaU.mat", "paviaU", "PaviaU_gt.mat", "paviaU_gt",
        {1: "Asphalt", 2: "Meadows", 3: "Gravel", 4: "Trees", 5: "Painted metal sheets", 6: "Bare Soil",
         7: "Bitumen", 8: "Self-Blocking Bricks", 9: "Shadows"},
        sha256={
            "PaviaU.mat": "28447fa87f7a5797845e9a189c0da85e23b1d06a4ba7361e5ff44efbf834d2fb",
            "PaviaU_gt.mat": "23f6a426928f9b32984adffe659e29f554f9fb6c93b5a107528d308d5087a829",
        },
        wavelengths=None,  # ROSIS 430-860 nm; which 12 noisy bands were dropped is not published with the file
        sensor="ROSIS", prompts="pavia_university.yaml",
    ),
    "salinas": DatasetSpec(
        "salinas", "Salinas_corrected.mat", "salinas_corrected", "Salinas_gt.mat", "salinas_gt",
        _SALINAS_CLASSES, wavelengths=_SALINAS_WL, sensor="AVIRIS", prompts="salinas.yaml",
    ),
    "salinas-a": DatasetSpec(
        "salinas-a", "SalinasA_corrected.mat", "salinasA_corrected", "SalinasA_gt.mat", "salinasA_gt",
        {v: _SALINAS_CLASSES[v] for v in (1, 10, 11, 12, 13, 14)},
        sha256={
            "SalinasA_corrected.mat": "d75684ed3ab71a1024cee0f9db9061f50a3523a92ff5edfbbb1eed976b9f1721",
            "SalinasA_gt.mat": "17814c1d3296c0e29b27f320f2c4174d2a68adb87e376abe78f02923e2c2e454",
        },
        wavelengths=_SALINAS_WL, sensor="AVIRIS", prompts="salinas_a.yaml",
    ),
}
#: Level 2 of the Berlin urban-gradient land-cover polygons (field ``Level_2_ID``).
BERLIN_CLASSES = {1: "roof", 2: "pavement", 3: "low vegetation", 4: "tree", 5: "soil", 6: "other"}
DATASETS["berlin"] = DatasetSpec(
    "berlin", "berlin/EnMAP_BerlinUrbanGradient.bsq", "", "berlin/LandCov_BerlinUrbanGradient.shp", "Level_2_ID",
    BERLIN_CLASSES, sensor="EnMAP (simulated from HyMap)", prompts="berlin_coarse.yaml", kind="envi-vector",
    wavelength_note="EnMAP band centres and FWHM from the ENVI header",
)
_ALIASES = {"indianpines": "indian-pines", "ip": "indian-pines", "paviau": "pavia-university", "pavia": "pavia-university",
            "pu": "pavia-university", "salinasa": "salinas-a", "sa": "salinas-a",
            "berlinurbangradient": "berlin"}


@dataclass
class HSIDataset:
    """A benchmark scene: cube ``(band, y, x)``, labels ``(y, x)`` (0 = unlabelled) and class names."""

    name: str
    cube: xr.DataArray | None
    labels: xr.DataArray
    classes: dict[int, str]
    spec: DatasetSpec

    @property
    def prompts_path(self) -> Path:
        """The prompt file shipped with hsigeo for this scene."""
        return Path(__file__).resolve().parents[1] / "data" / "prompts" / self.spec.prompts


def resolve_name(name: str) -> str:
    """Canonical dataset name (``salinas-a``, ``indian-pines``...) from a loose spelling."""
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    key = _ALIASES.get(key.replace("-", ""), key)
    if key not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}.")
    return key


def find_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The folder holding the benchmark files, or None when none is found.

    Order: ``data_dir``, ``$HSIGEO_DATA_DIR``, ``./shared/datasets`` and
    ``../shared/datasets`` from the working directory, then beside the project.
    """
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get("HSIGEO_DATA_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parents[2]
    for cand in (Path.cwd() / "shared" / "datasets", Path.cwd().parent / "shared" / "datasets", here.parent / "shared" / "datasets"):
        if cand.is_dir():
            return cand
    return None


def sha256sum(path: Path, *, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _read_mat(folder: Path | None, fname: str, var: str, spec: DatasetSpec, verify: bool) -> np.ndarray:
    if folder is None:
        raise DatasetError(
            f"{fname}: no data folder found; pass --data-dir / data_dir= or set HSIGEO_DATA_DIR "
            f"to the folder holding the {spec.name} .mat files."
        )
    path = folder / fname
    if not path.is_file():
        raise DatasetError(
            f"{path}: file not found; download {fname} ({spec.name}) from the GIC 'Hyperspectral Remote Sensing "
            f"Scenes' page into {folder}, or point HSIGEO_DATA_DIR / --data-dir at the folder that has it."
        )
    expected = spec.sha256.get(fname)
    if verify and expected and (actual := sha256sum(path)) != expected:
        raise DatasetError(
            f"{path}: sha256 {actual} does not match the published {expected}; the copy is corrupt or "
            "another version: download it again (or pass verify=False at your own risk)."
        )
    from scipy.io import loadmat

    try:
        mat = loadmat(path)
    except Exception as exc:  # scipy raises several types for bad files
        raise DatasetError(f"{path}: not a readable MATLAB file ({exc}); download it again.") from exc
    if var not in mat:
        found = [k for k in mat if not k.startswith("__")]
        if len(found) != 1:
            raise DatasetError(f"{path}: variable {var!r} not found (has {found}); is this the right file?")
        var = found[0]
    return np.asarray(mat[var])


def _package_data_dir(package: str, sub: str) -> Path | None:
    """The data folder of an installed package, found without importing it (None when not installed)."""
    import importlib.util

    try:
        found = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    for root in found.submodule_search_locations:
        cand = Path(root) / sub
        if cand.is_dir():
            return cand
    return None


def _find_cube(folder: Path | None, spec: DatasetSpec) -> Path | None:
    """First existing file among the cube's forms: the ``.mat``, the alternatives, then package data."""
    if folder is not None:
        for fname in (spec.cube_file, *spec.alt_cube_files):
            if (folder / fname).is_file():
                return folder / fname
    if spec.package_data is not None and spec.alt_cube_files:
        pkg_dir = _package_data_dir(*spec.package_data)
        if pkg_dir is not None:
            for fname in spec.alt_cube_files:
                if (pkg_dir / fname).is_file():
                    return pkg_dir / fname
    return None


def _read_npy(path: Path, spec: DatasetSpec, verify: bool) -> np.ndarray:
    """Read a ``.npy`` cube (never unpickling), after checking its published sha256."""
    expected = spec.sha256.get(path.name)
    if verify and expected and (actual := sha256sum(path)) != expected:
        raise DatasetError(
            f"{path}: sha256 {actual} does not match the published {expected}; the copy is corrupt or "
            "another version: get it again (or pass verify=False at your own risk)."
        )
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DatasetError(f"{path}: not a readable NumPy .npy file ({exc}); get it again.") from exc


def _read_cube(folder: Path | None, spec: DatasetSpec, verify: bool) -> np.ndarray:
    """The cube as (rows, cols, bands) from whichever of its forms is present."""
    path = _find_cube(folder, spec)
    if path is not None and path.suffix == ".npy":
        return _read_npy(path, spec, verify)
    try:
        return _read_mat(folder, spec.cube_file, spec.cube_var, spec, verify)
    except DatasetError as exc:
        if path is None and spec.alt_cube_files:  # absent in every form: name the other forms too
            raise DatasetError(
                f"{exc} {spec.name} also loads from {' or '.join(spec.alt_cube_files)} in that folder"
                + (f" or from an installed {spec.package_data[0]} package" if spec.package_data else "") + "."
            ) from exc
        raise


def _grid_coords(h: int, w: int) -> dict[str, np.ndarray]:
    return {"y": -(np.arange(h) + 0.5), "x": np.arange(w) + 0.5}


def load_labels(name: str, *, data_dir: str | os.PathLike | None = None, verify: bool = True) -> xr.DataArray:
    """Only the ground-truth label map of a benchmark scene (as ``(y, x)`` int32, 0 = unlabelled)."""
    spec = DATASETS[resolve_name(name)]
    if spec.kind == "envi-vector":
        return _read_envi_vector(find_data_dir(data_dir), spec)[1]
    gt = _read_mat(find_data_dir(data_dir), spec.gt_file, spec.gt_var, spec, verify).astype(np.int32)
    labels = xr.DataArray(gt, dims=("y", "x"), coords=_grid_coords(*gt.shape), name="labels")
    labels.attrs.update(class_names=dict(spec.classes), crs_note=PIXEL_GRID_NOTE, dataset=spec.name)
    labels.rio.write_transform(Affine(1, 0, 0, 0, -1, 0), inplace=True)
    return labels


def load_dataset(
    name: str, *, data_dir: str | os.PathLike | None = None, verify: bool = True, labels_only: bool = False
) -> HSIDataset:
    """Load a benchmark scene.

    Parameters
    ----------
    name
        ``salinas-a``, ``salinas``, ``indian-pines``, ``pavia-university`` or ``berlin``
        (loose spellings such as ``SalinasA`` or ``PaviaU`` work).  ``berlin`` is EnMAP-Box's
        urban-gradient test scene: a lazily read ENVI cube with its map coordinates and the
        level-2 land-cover polygons burnt onto its grid (:func:`_read_envi_vector`).
    data_dir
        Folder with the ``.mat`` files (see :func:`find_data_dir`).  Indian Pines also
        loads from ``Indian_pines_corrected.npy`` (the copy inside the tensorly 0.10.0 wheel)
        in that folder or, with tensorly installed, from tensorly's package data.
    verify
        Check published sha256 sums (Indian Pines ``.mat`` and ``.npy``, Pavia University, Salinas-A).
    labels_only
        Load only the label map (``cube`` is then None).

    Raises
    ------
    DatasetError
        A file is missing, fails its checksum, or is not the expected MAT file.
    """
    spec = DATASETS[resolve_name(name)]
    if spec.kind == "envi-vector":
        cube_da, labels = _read_envi_vector(find_data_dir(data_dir), spec)
        return HSIDataset(spec.name, None if labels_only else cube_da, labels, dict(spec.classes), spec)
    labels = load_labels(spec.name, data_dir=data_dir, verify=verify)
    cube_da = None
    if not labels_only:
        cube = _read_cube(find_data_dir(data_dir), spec, verify)
        if cube.ndim != 3 or cube.shape[:2] != labels.shape:
            raise DatasetError(f"{spec.cube_file}: cube shape {cube.shape} does not match labels {labels.shape}.")
        # (rows, cols, bands) -> (band, y, x); contiguous because the .npy copy is Fortran-ordered
        cube = np.ascontiguousarray(np.moveaxis(cube, -1, 0))
        coords: dict = {"band": np.arange(1, cube.shape[0] + 1), **_grid_coords(*cube.shape[1:])}
        if spec.wavelengths is not None and len(spec.wavelengths) == cube.shape[0]:
            coords["wavelength"] = ("band", spec.wavelengths)
        else:
            coords["wavelength"] = ("band", np.full(cube.shape[0], np.nan))
        cube_da = xr.DataArray(cube, dims=("band", "y", "x"), coords=coords, name=spec.name)
        cube_da.attrs.update(
            crs_note=PIXEL_GRID_NOTE, dataset=spec.name, sensor=spec.sensor,
            wavelength_note=spec.wavelength_note,
        )
        cube_da.rio.write_transform(Affine(1, 0, 0, 0, -1, 0), inplace=True)
    return HSIDataset(spec.name, cube_da, labels, dict(spec.classes), spec)


def _need(folder: Path | None, rel: str, spec: DatasetSpec) -> Path:
    if folder is None:
        raise DatasetError(f"{rel}: no data folder found; pass --data-dir / data_dir= or set HSIGEO_DATA_DIR "
                           f"to the folder holding {spec.name}/.")
    path = folder / rel
    if not path.is_file():
        raise DatasetError(f"{path}: file not found; copy EnMAP-Box's Berlin urban-gradient test data "
                           f"(doi 10.5880/enmap.2016.002) into {path.parent}, or point HSIGEO_DATA_DIR at the "
                           "folder that has it.")
    return path


def _read_envi_vector(folder: Path | None, spec: DatasetSpec) -> tuple[xr.DataArray, xr.DataArray]:
    """An ENVI cube (lazy, as :func:`hsigeo.io.raster.open_hsi` reads it) and polygons burnt onto its grid.

    A pixel is labelled when its centre lies in a polygon (the polygons are coarse blocks, so
    the labels are noisy); nodata pixels of the cube are left unlabelled.
    """
    from hsigeo.io.labels import read_labels
    from hsigeo.io.raster import open_hsi

    cube = open_hsi(_need(folder, spec.cube_file, spec))
    labels = read_labels(_need(folder, spec.gt_file, spec), cube, field=spec.gt_var, classes=dict(spec.classes))
    nod = cube.rio.nodata
    if nod is not None:
        labels = labels.where(~(cube == nod).all("band").values, 0)
    labels = labels.astype(np.int32)
    labels.attrs.update(class_names=dict(spec.classes), dataset=spec.name)
    cube.attrs.update(dataset=spec.name, sensor=spec.sensor, wavelength_note=spec.wavelength_note)
    return cube, labels


@dataclass
class SpectralLibrary:
    """Labelled spectra: ``spectra (N, B)`` (reflectance 0-1), ``wavelengths (B,)`` nm, names, classes."""

    spectra: np.ndarray
    wavelengths: np.ndarray
    names: list[str]
    classes: list[str]


def load_berlin_library(data_dir: str | os.PathLike | None = None) -> SpectralLibrary:
    """The 75 labelled HyMap spectra of the Berlin urban-gradient library (``library_berlin.gpkg``).

    Classes are the GeoPackage's ``level_3`` (roof, pavement, low vegetation, tree, soil, water);
    each profile is a JSON object ``{"x": wavelengths (µm), "y": reflectance x 10000}``.
    """
    import json

    import geopandas as gpd

    path = _need(find_data_dir(data_dir), "berlin/library_berlin.gpkg", DATASETS["berlin"])
    try:
        gdf = gpd.read_file(path, layer="library_berlin")
    except Exception as exc:  # pyogrio / fiona raise several types for bad files
        raise DatasetError(f"{path}: not a readable GeoPackage ({exc}).") from exc
    missing = {"name", "profiles", "level_3"} - set(gdf.columns)
    if missing:
        raise DatasetError(f"{path}: columns {sorted(missing)} missing; is this EnMAP-Box's library_berlin.gpkg?")
    spectra, wl = [], None
    for raw in gdf["profiles"]:
        prof = json.loads(raw.decode() if isinstance(raw, bytes | bytearray) else raw)
        x = np.asarray(prof["x"], dtype=np.float64)
        x = x * 1000.0 if str(prof.get("xUnit", "")).lower().startswith("micro") else x
        if wl is None:
            wl = x
        elif x.shape != wl.shape or not np.allclose(x, wl):
            raise DatasetError(f"{path}: profiles on different wavelengths; expected one band set.")
        spectra.append(np.asarray(prof["y"], dtype=np.float64) / 10000.0)
    return SpectralLibrary(np.stack(spectra).astype(np.float32), wl, [str(n) for n in gdf["name"]],
                           [str(c) for c in gdf["level_3"]])
