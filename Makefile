# Two commands set up a fresh Debian machine and run the project:
#   make demo   installs everything, then runs every pipeline stage on the embedded toy dataset
#   make test   installs everything, then runs the fast tier of the test suite (tests not marked slow)
# and `make test-all` runs every test, the slow training, cluster and ESC-10 ones too (CI runs it).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mclnn-installed
DEMO_OUT ?= mclnn-data/toy

.PHONY: demo test test-all system-programs clean

demo: $(STAMP)
	$(BIN)/mclnn transform toy --out $(DEMO_OUT)
	$(BIN)/mclnn folds toy --out $(DEMO_OUT)
	$(BIN)/mclnn cv-train toy --out $(DEMO_OUT)

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

test-all: $(STAMP)
	$(BIN)/python -m pytest

# muda's pitch and time deformers run `rubberband`; its DynamicRangeCompression runs `sox`.
system-programs:
	@if ! command -v rubberband >/dev/null || ! command -v sox >/dev/null; then \
	  echo "installing rubberband-cli and sox (needs root)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rubberband-cli sox >/dev/null; \
	fi

# The CPU set, pinned to the versions the suite passed with (constraints.txt says how to refresh it).
$(STAMP): setup.cfg pyproject.toml constraints.txt | system-programs
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[cpu,augment,test]'
	# muda depends on PySoundFile, whose soundfile.py overwrites the real one and cannot find libsndfile.
	$(BIN)/pip install -q --force-reinstall --no-deps "$$(grep '^soundfile==' constraints.txt)"
	$(BIN)/python -c "import soundfile; print('libsndfile', soundfile.__libsndfile_version__)"
	touch $@

clean:
	rm -rf $(VENV) mclnn-data .pytest_cache
