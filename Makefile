# valstudy: `make test` and `make study` set everything up on a fresh machine (they create .venv when missing).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.valstudy-installed
DATA   ?= synthetic
DATA_ROOT ?= data/real
JOBS   ?=
TEST_JOBS ?= 2
PROFILE ?=
DATASETS ?=
SCHEDULER ?=
SAMPLE ?= 6
comma  := ,

.PHONY: help setup test study study-quick records data figures verify lab bench clean-build notebooks findings book test-browser

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install valstudy with its dev extras (torch, jupyter, papermill, pytest)

test: $(STAMP) ## run the test suite (every stored notebook executed under VALSTUDY_PROFILE=smoke: tests/test_notebooks.py)
	$(PY) -m pytest -n $(TEST_JOBS) --dist loadgroup -q --ignore=tests/browser

notebooks: $(STAMP) ## sync each notebook's .py and .ipynb (jupytext), then strip the .ipynb outputs
	$(PY) -m jupytext --sync notebooks/*.ipynb
	$(PY) -m jupyter nbconvert --clear-output --inplace --log-level WARN notebooks/*.ipynb
	touch notebooks/*.py  # the text side stays the newer one, as jupytext expects

data: $(STAMP) ## generate the three synthetic datasets under data/synthetic/
	$(call STUDY,data)

STUDY = $(PY) -m valstudy study $(1) --data $(DATA) --data-root $(DATA_ROOT) $(if $(PROFILE),--profile $(PROFILE)) \
	$(if $(DATASETS),--datasets $(subst $(comma), ,$(DATASETS))) $(if $(JOBS),--jobs $(JOBS)) \
	$(if $(SCHEDULER),--scheduler $(SCHEDULER))
FINDINGS = $(if $(filter rehearsal smoke quick,$(PROFILE)),@echo "profile $(PROFILE): README left alone",\
	$(PY) -m valstudy findings --readme README.md)

study: $(STAMP) ## the whole study from scratch: data, every run retrained (one Dask worker per core), records, notebooks, figures, README block (JOBS=N SCHEDULER=tcp://... DATA=real DATA_ROOT=... PROFILE=... DATASETS=...)
	$(call STUDY,all --fresh)
	$(FINDINGS)

records: $(STAMP) ## train only the runs without a current record (a study built over several sittings or machines), then the notebooks
	$(call STUDY,all)
	$(FINDINGS)

study-quick: $(STAMP) ## a first look: the synthetic study with one random seed and no ablations (records and figures in build/quick/)
	$(PY) -m valstudy study all --profile quick $(if $(JOBS),--jobs $(JOBS))

figures: $(STAMP) ## every figure, table, executed notebook and the README block from the committed records, training nothing
	$(call STUDY,figures)
	$(FINDINGS)

verify: $(STAMP) ## retrain SAMPLE (6) recorded runs here and report how far each number moved
	$(PY) -m valstudy study verify --sample $(SAMPLE) $(if $(JOBS),--jobs $(JOBS)) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

lab: $(STAMP) ## JupyterLab on the notebooks (they read the committed records and train nothing; PROFILE=smoke: tiny runs instead)
	VALSTUDY_PROFILE=$(PROFILE) $(PY) -m jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

book: $(STAMP) ## the executed notebooks and docs/ as a book in build/book/ (open build/book/index.html; works offline)
	@$(PY) -c "import sphinx, myst_nb, sphinx_book_theme, mathjax" 2>/dev/null || \
		$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,book]'
	$(PY) -m valstudy book --executed notebooks/executed --out build/book

test-browser: $(STAMP) ## the browser tests (tests/browser/): installs playwright into .venv, drives Debian's chromium
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,browser,book]'
	@command -v chromium >/dev/null || echo "no chromium: the browser tests will skip (apt-get install -y chromium)"
	VALSTUDY_BROWSER=1 $(PY) -m pytest -q -n 0 tests/browser

findings: $(STAMP) ## rewrite the README's findings block from figures/*.json (paired 95% intervals over seeds)
	$(PY) -m valstudy findings --readme README.md

bench: $(STAMP) ## the retrieval and training-step benchmarks
	$(PY) bench/retrieval.py
	$(PY) bench/train_step.py

clean-build: ## remove executed notebooks and runs (not the figures)
	rm -rf build runs
