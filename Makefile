# The README's two commands. Each sets up .venv first (scripts/setup.sh is a no-op when nothing changed).
VENV ?= .venv
export OMP_NUM_THREADS ?= 1

.PHONY: setup quickstart test test-fast

setup:
	@scripts/setup.sh

quickstart: setup  ## the main job: a small ML campaign on the embedded default store
	$(VENV)/bin/seiscreen run workflows/quickstart.yaml

test: setup  ## every test, the slow (ML potential, GPAW) ones included
	$(VENV)/bin/python -m pytest -q --durations=15  # the slowest tests, to watch the ~15-minute budget

test-fast: setup  ## the fast tests only (about 2 minutes)
	$(VENV)/bin/python -m pytest -q -m "not slow"
