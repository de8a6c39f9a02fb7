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

__all__ = ["DatasetSpec", "HSIDataset", "DATASETS", "find_data_dir", "load_dataset", "load_labels", "sha256sum"]

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


_SALINAS_CLASSES = {
    1: "Brocoli_green_weeds_1", 2: "Brocoli_green_weeds_2", 3: "Fallow", 4: "Fallow_rough_plow",
    5: "Fallow_smooth", 6: "Stubble", 7: "Celery", 8: "Grapes_untrained", 9: "Soil_vinyard_develop",
    10: "Corn_senesced_green_weeds", 11: "Lettuce_romaine_4wk", 12: "Lettuce_romaine_5wk",
    13: "Lettuce_romaine_6wk", 14: "Lettuce_romaine_7wk", 15: "Vinyard_untrained", 16: "Vinyard_vertical_trellis",
}
_SALINAS_WL = _aviris_wavelengths([range(108, 113), range(154, 168), range(224, 225)])

DATASETS: dict[str, DatasetSpec] = {
    "indian-pines": DatasetSpec(
        "indian-pines", "Indian_pines_corrected.mat", "indian_pines_corrected", "Indian_pines_gt.mat", "indian_pines_gt",
        {1: "Alfalfa", 2: "Corn-notill", 3: "Corn-mintill", 4: "Corn", 5: "Grass-pasture", 6: "Grass-trees",
         7: "Grass-pasture-mowed", 8: "Hay-windrowed", 9: "Oats", 10: "Soybean-notill", 11: "Soybean-mintill",
         12: "Soybean-clean", 13: "Wheat", 14: "Woods", 15: "Buildings-Grass-Trees-Drives", 16: "Stone-Steel-Towers"},
        sha256={
            "Indian_pines_corrected.mat": "ec2f8808710919d566f70f0d4aa885aae1ddfd42b734aba71c5e12ca65450939",
            "Indian_pines_gt.mat": "65c4687a8ab04f6da4789799bc3bc4f6e88bccac3ed6a2e6ae367e5e6b9e429c",
        },
        wavelengths=_aviris_wavelengths([range(104, 109), range(150, 164), range(220, 221)]),
        sensor="AVIRIS", prompts="indian_pines.yaml",
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
_ALIASES = {"indianpines": "indian-pines", "ip": "indian-pines", "paviau": "pavia-university", "pavia": "pavia-university",
            "pu": "pavia-university", "salinasa": "salinas-a", "sa": "salinas-a"}


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


def _grid_coords(h: int, w: int) -> dict[str, np.ndarray]:
    return {"y": -(np.arange(h) + 0.5), "x": np.arange(w) + 0.5}


def load_labels(name: str, *, data_dir: str | os.PathLike | None = None, verify: bool = True) -> xr.DataArray:
    """Only the ground-truth label map of a benchmark scene (as ``(y, x)`` int32, 0 = unlabelled)."""
    spec = DATASETS[resolve_name(name)]
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
        ``salinas-a``, ``salinas``, ``indian-pines`` or ``pavia-university``
        (loose spellings such as ``SalinasA`` or ``PaviaU`` work).
    data_dir
        Folder with the ``.mat`` files (see :func:`find_data_dir`).
    verify
        Check published sha256 sums (Indian Pines, Pavia University, Salinas-A).
    labels_only
        Load only the label map (``cube`` is then None).

    Raises
    ------
    DatasetError
        A file is missing, fails its checksum, or is not the expected MAT file.
    """
    spec = DATASETS[resolve_name(name)]
    labels = load_labels(spec.name, data_dir=data_dir, verify=verify)
    cube_da = None
    if not labels_only:
        cube = _read_mat(find_data_dir(data_dir), spec.cube_file, spec.cube_var, spec, verify)
        if cube.ndim != 3 or cube.shape[:2] != labels.shape:
            raise DatasetError(f"{spec.cube_file}: cube shape {cube.shape} does not match labels {labels.shape}.")
        cube = np.moveaxis(cube, -1, 0)  # (rows, cols, bands) -> (band, y, x)
        coords: dict = {"band": np.arange(1, cube.shape[0] + 1), **_grid_coords(*cube.shape[1:])}
        if spec.wavelengths is not None and len(spec.wavelengths) == cube.shape[0]:
            coords["wavelength"] = ("band", spec.wavelengths)
        else:
            coords["wavelength"] = ("band", np.full(cube.shape[0], np.nan))
        cube_da = xr.DataArray(cube, dims=("band", "y", "x"), coords=coords, name=spec.name)
        cube_da.attrs.update(
            crs_note=PIXEL_GRID_NOTE, dataset=spec.name, sensor=spec.sensor,
            wavelength_note="nominal band centres (linear over the sensor range), approximate",
        )
        cube_da.rio.write_transform(Affine(1, 0, 0, 0, -1, 0), inplace=True)
    return HSIDataset(spec.name, cube_da, labels, dict(spec.classes), spec)
