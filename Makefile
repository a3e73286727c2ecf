# Two commands on a fresh Debian/Ubuntu machine with Python 3.11+:
#   make run    set everything up, then run the whole analysis of the bundled example study
#   make test   set everything up, then run the fast tier of the tests (all but full-study runs)
#   make test-e2e  the end-to-end tier: the bundled example study run from scratch (minutes)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-12)
CORES ?= 2

.PHONY: run test test-e2e report setup lint format example-data docs clean slurm-test snapshots

run: setup
	$(BIN)/snakemake --cores $(CORES)
	@$(MAKE) --no-print-directory report

# The report is rebuilt only when a result is newer than it (a no-op run stays a no-op).
report:
	@if [ ! -f results/report.html ] || [ -n "$$(find results -type f -newer results/report.html -print -quit)" ]; then \
		$(BIN)/snakemake --report results/report.html; \
	else echo "results/report.html is up to date"; fi

# Fast tier on $(CORES) workers (pytest-xdist); a test module never runs on two workers at once.
test: setup
	$(BIN)/pytest -m "not e2e" -n $(CORES)

# End-to-end tier: whole studies run from scratch, one at a time (never two on two cores).
test-e2e: setup
	$(BIN)/pytest -m e2e -n 0

# Real SLURM end-to-end test (root, Debian/Ubuntu): starts a one-node cluster, runs the example
# study locally and through profiles/slurm, and compares both results/ trees.
slurm-test: setup
	bash tests/slurm/run_slurm_test.sh

setup: $(STAMP)

# Python packages pinned in requirements.lock; the library itself installed in editable mode.
# The figures' font (Liberation Sans) ships with the library: no system font package is needed.
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/snakefmt Snakefile workflow/rules

# Regenerate the bundled example studies (deterministic: the same bytes every time).
example-data: setup
	$(BIN)/python -m exneuro.simulate example config/config.yaml
	$(BIN)/python -m exneuro.simulate two_group config/two_group/config.yaml

clean:
	rm -rf results .snakemake

# Regenerate the key and column reference of config/README.md from the schemas.
docs: setup
	$(BIN)/python -m exneuro.schema_doc

# Regenerate the snapshots of every study's numbers (tests/snapshots/) after a deliberate change:
# runs each study once (the example takes minutes), then shows the diff to review before committing.
snapshots: setup
	$(BIN)/python tests/study_snapshots.py
