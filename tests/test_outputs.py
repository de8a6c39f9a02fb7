"""hsigeo.outputs.json_safe: the one conversion of model metadata, reports and benchmark results to JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hsigeo.outputs import json_safe


def test_json_safe_values():
    data = {
        1: np.float32(0.5), "nan": float("nan"), "inf": np.float64(np.inf), "arr": np.array([[1.0, np.nan], [3, 4]]),
        "ints": (np.int64(7), np.uint8(3)), "flag": np.bool_(True), "path": Path("/tmp/x.tif"), "none": None,
        "obj": object,
    }
    out = json_safe(data)
    assert out == {"1": 0.5, "nan": None, "inf": None, "arr": [[1.0, None], [3.0, 4.0]], "ints": [7, 3],
                   "flag": True, "path": "/tmp/x.tif", "none": None, "obj": str(object)}
    assert type(out["ints"][0]) is int and type(out["flag"]) is bool
    assert json.loads(json.dumps(out, allow_nan=False)) == out  # strict JSON
