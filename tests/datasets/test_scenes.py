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
