# peel-effectiveness: run `make help` for the targets.
# Everything runs inside .venv, which `make setup` creates (other targets run it first when needed).

PYTHON  ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.setup-done
KERNEL  := peel-effectiveness
FORCES  ?=
PERIODS ?=
JOBS    ?=
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup data test lab reports bench clean check-notebooks

help: ## list the targets and what they do
	@echo "Usage: make <target> [FORCES='Kent,City of London'] [PERIODS=2017-06-30]"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(STAMP) ## create .venv, install the package with its dev and cluster extras, register the Jupyter kernel

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "ERROR: python3.11 (or python3) not found: install Python 3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,cluster]'
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python ($(KERNEL))"
	touch $(STAMP)

data: setup ## fetch, verify (sha256) and cache the source data; PEEL_DATA_MIRROR=DIR copies from a local mirror
	$(BIN)/peel-reports data

test: setup ## run the tests (real-data tests need PEEL_DATA_MIRROR or data/raw)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lab: setup ## open the notebooks in JupyterLab
	$(BIN)/jupyter lab notebooks/

reports: setup data ## build every report into outputs/ (narrow with FORCES=a,b PERIODS=p1,p2 JOBS=n)
	$(BIN)/peel-reports build $(if $(FORCES),--forces "$(FORCES)") $(if $(PERIODS),--periods "$(PERIODS)") $(if $(JOBS),--jobs $(JOBS))

bench: setup data ## time the batch runner against a naive papermill/nbconvert loop and the kernel floor
	$(BIN)/python bench/bench_reports.py

check-notebooks: setup ## fail if a committed notebook carries outputs
	$(BIN)/python -m pytest -q tests/test_repo_hygiene.py

clean: ## delete built reports, the data cache and Python caches (keeps .venv and data/raw)
	-test -x $(BIN)/peel-reports && $(BIN)/peel-reports clean
	rm -rf outputs/*/ outputs/index.html data/processed/* .pytest_cache bench/results
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -prune -exec rm -rf {} +
