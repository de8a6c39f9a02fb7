"""Benchmark scene loaders on the real GIC files in ../shared/datasets (skipped when absent)."""

import shutil

import numpy as np
import pytest

from hsigeo.datasets.scenes import find_data_dir, load_dataset, resolve_name
from hsigeo.errors import DatasetError

DATA = find_data_dir()
needs_data = pytest.mark.skipif(
    DATA is None or not (DATA / "SalinasA_gt.mat").is_file(),
    reason="benchmark data not found: set HSIGEO_DATA_DIR to the folder with the GIC .mat files",
)


def test_resolve_names():
    assert resolve_name("SalinasA") == "salinas-a"
    assert resolve_name("PaviaU") == "pavia-university"
    assert resolve_name("Indian_Pines") == "indian-pines"
    with pytest.raises(DatasetError, match="unknown dataset"):
        resolve_name("houston")


@needs_data
@pytest.mark.realdata
def test_salinas_a_cube_and_labels():
    ds = load_dataset("salinas-a")
    assert ds.cube.dims == ("band", "y", "x") and ds.cube.shape == (204, 83, 86)
    assert ds.cube.dtype == np.int16 and int(ds.cube.min()) == -9 and int(ds.cube.max()) == 8373
    assert ds.cube.rio.crs is None and "no CRS" in ds.cube.attrs["crs_note"]
    assert ds.cube.rio.transform().e == -1.0
    assert np.all(np.diff(ds.cube["wavelength"].values) > 0)
    values, counts = np.unique(ds.labels.values, return_counts=True)
    assert dict(zip(values.tolist(), counts.tolist())) == {0: 1790, 1: 391, 10: 1343, 11: 616, 12: 1525, 13: 674, 14: 799}
    assert ds.classes[12] == "Lettuce_romaine_5wk"
    assert ds.prompts_path.name == "salinas_a.yaml"


@needs_data
@pytest.mark.realdata
def test_label_maps_only_and_counts():
    ip = load_dataset("indian-pines", labels_only=True)
    assert ip.cube is None and ip.labels.shape == (145, 145) and int((ip.labels > 0).sum()) == 10249
    pu = load_dataset("pavia-university", labels_only=True)
    assert pu.labels.shape == (610, 340) and int((pu.labels > 0).sum()) == 42776


@needs_data
def test_missing_cube_and_bad_checksum(tmp_path):
    with pytest.raises(DatasetError, match="PaviaU_gt.mat: file not found"):
        load_dataset("pavia-university", data_dir=tmp_path)
    shutil.copy(DATA / "PaviaU_gt.mat", tmp_path / "PaviaU_gt.mat")
    with pytest.raises(DatasetError, match="PaviaU.mat: file not found"):
        load_dataset("pavia-university", data_dir=tmp_path)
    shutil.copy(DATA / "SalinasA_gt.mat", tmp_path / "SalinasA_gt.mat")
    (tmp_path / "SalinasA_corrected.mat").write_bytes(b"not the cube")
    with pytest.raises(DatasetError, match="sha256"):
        load_dataset("salinas-a", data_dir=tmp_path)
    with pytest.raises(DatasetError, match="not a readable MATLAB file"):
        load_dataset("salinas-a", data_dir=tmp_path, verify=False)


IP_NPY = None if DATA is None else DATA / "Indian_pines_corrected.npy"
needs_ip_cube = pytest.mark.skipif(
    IP_NPY is None or not IP_NPY.is_file() or not (DATA / "Indian_pines_gt.mat").is_file(),
    reason="Indian Pines cube not found: set HSIGEO_DATA_DIR to a folder with Indian_pines_corrected.npy "
    "(from the tensorly 0.10.0 wheel) and Indian_pines_gt.mat",
)

IP_COUNTS = {1: 46, 2: 1428, 3: 830, 4: 237, 5: 483, 6: 730, 7: 28, 8: 478, 9: 20, 10: 972, 11: 2455,
             12: 593, 13: 205, 14: 1265, 15: 386, 16: 93}


@needs_ip_cube
@pytest.mark.realdata
def test_indian_pines_npy_cube(tmp_path):
    from hsigeo.datasets.scenes import sha256sum

    assert sha256sum(IP_NPY) == "8f038e4d81569e38ebfc72a15c9984c150de42580ab260be10a13442e912e451"
    # only the .npy and the labels in the folder: the loader must take the .npy form
    for name in ("Indian_pines_corrected.npy", "Indian_pines_gt.mat"):
        (tmp_path / name).symlink_to(DATA / name)
    ds = load_dataset("indian-pines", data_dir=tmp_path)
    assert ds.cube.dims == ("band", "y", "x") and ds.cube.shape == (200, 145, 145)
    assert ds.cube.dtype == np.uint16 and int(ds.cube.min()) == 955 and int(ds.cube.max()) == 9604
    assert ds.cube.values.flags.c_contiguous
    raw = np.load(IP_NPY, allow_pickle=False)
    np.testing.assert_array_equal(ds.cube.values[:, 10, 20], raw[10, 20, :])  # row 10, column 20
    wl = ds.cube["wavelength"].values
    assert wl.shape == (200,) and wl[0] == pytest.approx(400.02) and wl[-1] == pytest.approx(2498.96)
    assert np.all(np.isfinite(wl)) and np.sum(np.diff(wl) < 0) == 2  # two spectrometer overlaps
    values, counts = np.unique(ds.labels.values, return_counts=True)
    assert dict(zip(values.tolist(), counts.tolist())) == {0: 10776, **IP_COUNTS}
    assert ds.classes[9] == "Oats"


@needs_ip_cube
def test_indian_pines_npy_checksum(tmp_path):
    (tmp_path / "Indian_pines_gt.mat").symlink_to(DATA / "Indian_pines_gt.mat")
    bad = np.zeros((145, 145, 200), np.uint16)
    np.save(tmp_path / "Indian_pines_corrected.npy", bad)
    with pytest.raises(DatasetError, match="sha256"):
        load_dataset("indian-pines", data_dir=tmp_path)
    ds = load_dataset("indian-pines", data_dir=tmp_path, verify=False)  # the user's own copy, unchecked
    assert ds.cube.shape == (200, 145, 145)
    (tmp_path / "Indian_pines_corrected.npy").write_bytes(b"not an array")
    with pytest.raises(DatasetError, match="not a readable NumPy"):
        load_dataset("indian-pines", data_dir=tmp_path, verify=False)


def test_indian_pines_from_package_data(tmp_path, monkeypatch):
    """With tensorly installed, its package copy of the cube is found when the data folder has none."""
    import hsigeo.datasets.scenes as dsmod

    pkg = tmp_path / "pkg" / "datasets" / "data"
    pkg.mkdir(parents=True)
    np.save(pkg / "Indian_pines_corrected.npy", np.full((145, 145, 200), 1000, np.uint16))
    monkeypatch.setattr(dsmod, "_package_data_dir", lambda package, sub: tmp_path / "pkg" / sub)
    folder = tmp_path / "data"
    folder.mkdir()
    spec = dsmod.DATASETS["indian-pines"]
    assert dsmod._find_cube(folder, spec) == pkg / "Indian_pines_corrected.npy"
    assert dsmod._read_cube(folder, spec, verify=False).shape == (145, 145, 200)
    with pytest.raises(DatasetError, match="sha256"):
        dsmod._read_cube(folder, spec, verify=True)
    monkeypatch.setattr(dsmod, "_package_data_dir", lambda package, sub: None)
    with pytest.raises(DatasetError, match="Indian_pines_corrected.mat: file not found"):
        dsmod._read_cube(folder, spec, verify=True)


needs_berlin = pytest.mark.skipif(
    DATA is None or not (DATA / "berlin" / "EnMAP_BerlinUrbanGradient.bsq").is_file(),
    reason="Berlin urban-gradient data not found: set HSIGEO_DATA_DIR to the folder holding berlin/",
)


@needs_berlin
@pytest.mark.realdata
def test_berlin_scene_polygons_and_merge():
    from hsigeo.evaluation.merges import SCENES, load_merge, merge_labels
    from hsigeo.text.prompts import load_prompts

    ds = load_dataset("Berlin")
    cube, labels = ds.cube, ds.labels
    assert cube.shape == (177, 80, 60) and cube.rio.crs.to_epsg() == 32633 and cube.rio.nodata == -99
    wl = cube.coords["wavelength"].values
    assert wl[0] == pytest.approx(460.0) and wl[-1] == pytest.approx(2409.0) and "fwhm" in cube.coords
    assert cube.rio.transform().a == 30.0 and labels.rio.transform() == cube.rio.transform()
    # the published burnt counts: roof 223, pavement 293, low vegetation 105, tree 194, soil 8, other 9
    counts = dict(zip(*np.unique(labels.values, return_counts=True), strict=True))
    assert {int(k): int(v) for k, v in counts.items() if k} == {1: 223, 2: 293, 3: 105, 4: 194, 5: 8, 6: 9}
    table = load_merge(SCENES["berlin"])
    merged = merge_labels(labels.values, table)
    assert (merged == 6).sum() == 0 and (merged > 0).sum() == 823
    assert load_prompts(table.prompts).names == ["Roof", "Pavement", "Low vegetation", "Tree", "Soil"]


@needs_berlin
@pytest.mark.realdata
def test_berlin_library_spectra_and_classes():
    from collections import Counter

    from hsigeo.datasets.scenes import load_berlin_library

    lib = load_berlin_library()
    assert lib.spectra.shape == (75, 177) and lib.wavelengths[0] == pytest.approx(460.0)
    assert 0 < lib.spectra.min() and lib.spectra.max() < 1  # reflectance 0-1
    assert Counter(lib.classes) == {"roof": 23, "pavement": 15, "low vegetation": 18, "tree": 13, "soil": 4,
                                    "water": 2}
    assert lib.names[0] == "red clay tile 1"
