# peel-effectiveness: run `make help` for the targets.
# Everything runs inside .venv, which `make setup` creates (other targets run it first when needed).

PYTHON  ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.setup-done
LOCK    := requirements.lock
KERNEL  := peel-effectiveness
FORCES  ?=
PERIODS ?=
JOBS    ?=
PDF     ?=
PYTEST_ARGS ?=
MUTANTS ?=
MUTATION_SAMPLE ?=
MUTATION_JOBS ?= 2

.DEFAULT_GOAL := help
.PHONY: help setup lock data test lab reports bench bench-one clean check-notebooks mutation

help: ## list the targets and what they do
	@echo "Usage: make <target> [FORCES='Kent,City of London'] [PERIODS=2017-06-30]"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(STAMP) ## create .venv, install the pinned versions of requirements.lock with uv (hash-checked), register the Jupyter kernel

# Every library comes from the lock, with its sha256 checked. uv is taken from the lock too: pip installs
# the lock's own uv entry (one pinned version, with its hashes) into .venv (ensurepip first gives pip
# to a .venv made without it), and uv then installs the rest of the lock, checking every hash. The
# project itself is then installed over it without resolving anything again (its build needs only
# setuptools and wheel, also locked).
$(STAMP): pyproject.toml $(LOCK)
	@test -n "$(PYTHON)" || { echo "ERROR: python3.11 (or python3) not found: install Python 3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	sed -n '/^uv==/,/[^\\]$$/p' $(LOCK) > $(VENV)/uv-requirement.txt
	@grep -q -- '--hash=sha256:' $(VENV)/uv-requirement.txt || { echo "ERROR: no hashed uv entry in $(LOCK): run make lock"; exit 1; }
	$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --default-pip >/dev/null
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(VENV)/uv-requirement.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes -r $(LOCK)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python ($(KERNEL))"
	touch $(STAMP)

# The lock pins, with hashes, pyproject.toml's dependencies and its dev and cluster extras, plus the
# build requirements, for every platform (markers) from Python 3.11 on. Refresh it after changing a
# dependency in pyproject.toml; `make setup` then installs the new pins.
lock: ## refresh requirements.lock (pinned versions with sha256 hashes) from the ranges in pyproject.toml
	@test -x $(BIN)/uv || { echo "ERROR: uv not found in $(VENV): run make setup first (uv is a dev dependency)"; exit 1; }
	$(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
	  | $(BIN)/uv pip compile --quiet pyproject.toml - --extra dev --extra cluster --universal \
	      --python-version 3.11 --generate-hashes --custom-compile-command "make lock" -o $(LOCK)

data: setup ## fetch, verify (sha256) and cache the source data; PEEL_DATA_MIRROR=DIR copies from a local mirror
	$(BIN)/peel-reports data

test: setup ## run the tests (real-data tests need PEEL_DATA_MIRROR or data/raw)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Mutation testing (slow, not in CI): the data cache is built once into a temporary folder that every
# test run starts from (PEEL_TEST_DATA_TEMPLATE). A first mutmut call generates the mutants and
# collects its stats, then every mutant is made to run every selected test (tests/mutation_sample.py).
# mutmut keeps results in mutants/: a second run tests only mutants of changed functions.
# MUTANTS='peel_helpers.measures.compare.*' narrows the run; MUTATION_SAMPLE=0.2 runs a seeded 20%
# sample of each file's mutants.
mutation: setup ## mutation testing (mutmut) of peel_helpers/measures and core/periods.py over the fast tests; slow
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	PEEL_OFFLINE=1 PEEL_DATA_DIR="$$tmp" $(BIN)/peel-reports data >/dev/null && \
	export PEEL_TEST_DATA_TEMPLATE="$$tmp" PEEL_OFFLINE=1 && \
	{ nice -n 10 $(BIN)/mutmut run --max-children $(MUTATION_JOBS) no-such-mutant >/dev/null 2>&1; true; } && \
	$(BIN)/python tests/mutation_sample.py widen && names="$(MUTANTS)" && \
	if [ -n "$(MUTATION_SAMPLE)" ]; then \
	  $(BIN)/python tests/mutation_sample.py sample $(MUTATION_SAMPLE) > mutants/sample.txt && \
	  names="$$(cat mutants/sample.txt)"; fi && \
	nice -n 10 $(BIN)/mutmut run --max-children $(MUTATION_JOBS) $$names; \
	$(BIN)/python tests/mutation_sample.py score $$( [ -n "$(MUTATION_SAMPLE)" ] && echo mutants/sample.txt )

lab: setup ## open the notebooks in JupyterLab
	$(BIN)/jupyter lab notebooks/

reports: setup data ## build every report into outputs/ (narrow with FORCES=a,b PERIODS=p1,p2 JOBS=n; PDF=1 also prints PDFs)
	$(BIN)/peel-reports build $(if $(FORCES),--forces "$(FORCES)") $(if $(PERIODS),--periods "$(PERIODS)") $(if $(JOBS),--jobs $(JOBS)) $(if $(filter 1 yes true,$(PDF)),--pdf)

bench: setup data ## time the batch runner against a naive papermill/nbconvert loop and the kernel floor
	$(BIN)/python bench/bench_reports.py

bench-one: setup data ## one force x every section x one period against its fresh-kernel floor (FULL=1: then the full batch)
	$(BIN)/python bench/bench_reports.py --one-force $(if $(FULL),--full)

check-notebooks: setup ## fail if a committed notebook carries outputs
	$(BIN)/python -m pytest -q tests/test_repo_hygiene.py

clean: ## delete what builds wrote into outputs/ (by their records), the data cache and Python caches (keeps .venv, data/raw)
	-test -x $(BIN)/peel-reports && $(BIN)/peel-reports clean
	rm -rf data/processed/* .pytest_cache bench/results
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -prune -exec rm -rf {} +
