# Two commands set up a fresh Debian machine and run the project:
#   make demo   installs everything, then runs every pipeline stage on the embedded toy dataset
#   make test   installs everything, then runs the fast tier of the test suite (tests not marked slow)
# and `make test-all` runs every test, the slow training, cluster and ESC-10 ones too (CI runs it);
# `make test-jax` runs the fast tier under Keras' JAX backend, without TensorFlow (CI runs a part of it).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mclnn-installed
JAX_VENV ?= .venv-jax
JAX_STAMP := $(JAX_VENV)/.mclnn-installed
DEMO_OUT ?= mclnn-data/toy
# Tests run in this many processes (pytest-xdist): most train tiny models, which keep one core busy each.
TEST_WORKERS ?= 2
PYTEST := -m pytest -n $(TEST_WORKERS) --dist worksteal

.PHONY: demo test test-all test-jax system-programs clean

demo: $(STAMP)
	$(BIN)/mclnn transform toy --out $(DEMO_OUT)
	$(BIN)/mclnn folds toy --out $(DEMO_OUT)
	$(BIN)/mclnn cv-train toy --out $(DEMO_OUT)

test: $(STAMP)
	$(BIN)/python $(PYTEST) -m "not slow"

test-all: $(STAMP)
	$(BIN)/python $(PYTEST)

# JAX_TESTS: which test files (default: the whole fast tier).
test-jax: $(JAX_STAMP)
	KERAS_BACKEND=jax $(JAX_VENV)/bin/python $(PYTEST) -m "not slow" $(JAX_TESTS)

# muda's pitch and time deformers run `rubberband`; its DynamicRangeCompression runs `sox`.
system-programs:
	@if ! command -v rubberband >/dev/null || ! command -v sox >/dev/null; then \
	  echo "installing rubberband-cli and sox (needs root)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rubberband-cli sox >/dev/null; \
	fi

# $(call install,VENV,BACKEND-EXTRA): mclnn with that backend, augment and test, pinned to the versions the
# suite passed with (constraints.txt says how to refresh it).
define install
	$(PYTHON) -m venv $(1)
	$(1)/bin/pip install -q --upgrade pip
	$(1)/bin/pip install -q -c constraints.txt -e '.[$(2),augment,test]'
	# muda depends on PySoundFile, whose soundfile.py overwrites the real one and cannot find libsndfile.
	$(1)/bin/pip install -q --force-reinstall --no-deps "$$(grep '^soundfile==' constraints.txt)"
	$(1)/bin/python -c "import soundfile; print('libsndfile', soundfile.__libsndfile_version__)"
	# librosa's numba cache, compiled once here rather than by several test or worker processes at once.
	$(1)/bin/python -c "from mclnn.preprocess.augmentation import warm_numba_caches; warm_numba_caches()"
	touch $(1)/.mclnn-installed
endef

$(STAMP): setup.cfg pyproject.toml constraints.txt | system-programs
	$(call install,$(VENV),cpu)

# The same suite under Keras' JAX backend, in a venv without TensorFlow (tests that read TensorFlow's own
# files, or take gradients with its GradientTape, skip there).
$(JAX_STAMP): setup.cfg pyproject.toml constraints.txt | system-programs
	$(call install,$(JAX_VENV),jax)

clean:
	rm -rf $(VENV) $(JAX_VENV) mclnn-data .pytest_cache
