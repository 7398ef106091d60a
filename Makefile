# The README's two commands. Each sets up .venv first (scripts/setup.sh is a no-op when nothing changed).
VENV ?= .venv
export OMP_NUM_THREADS ?= 1

.PHONY: setup quickstart test test-fast

setup:
	@scripts/setup.sh

quickstart: setup  ## the main job: a small ML campaign on the embedded default store
	$(VENV)/bin/seiscreen run workflows/quickstart.yaml

# Tests run on every core (at most 4 workers), one test file per worker: a file's fixtures are built once.
PYTEST_WORKERS ?= -n auto --maxprocesses 4 --dist loadfile

test: setup  ## every test, the slow (ML potential, GPAW) ones included
	$(VENV)/bin/python -m pytest -q $(PYTEST_WORKERS) --durations=15  # the slowest, to watch the 20-minute budget

test-fast: setup  ## the fast tests only (under 3 minutes on 2 cores)
	$(VENV)/bin/python -m pytest -q $(PYTEST_WORKERS) -m "not slow"
