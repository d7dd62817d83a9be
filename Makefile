# Two entry points; each creates .venv and installs the project into it when missing.
#   make demo   the main job on the embedded default data
#   make test   the test suite
#   make test-fast   the suite without the tests marked slow (under 90 s)
#   make test-numerics   the numerically sensitive tests under each MKL_CBWR branch and thread count
#   make test-faults   the fault-injection suite: every tool killed at random points, then resumed (~8 min)
#   make browser-test   installs Debian's chromium (apt-get) and opens the analysis page in it
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OPENCV_VERSION := $(shell sed -n 's/^OPENCV_VERSION = "\(.*\)"/\1/p' setup.py)
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test test-fast test-numerics test-faults install lint clean browser-test

install: $(STAMP)

$(STAMP): setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[dev]'
	# albumentations' opencv-python-headless shares cv2/ with the contrib build: restore contrib last.
	$(PIP) install --force-reinstall --no-deps opencv-contrib-python-headless==$(OPENCV_VERSION)
	$(BIN)/python -c "import cv2; cv2.ximgproc.segmentation.createSelectiveSearchSegmentation(); print('cv2', cv2.__version__, 'with ximgproc')"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python tools/demo.py

test: $(STAMP)
	$(BIN)/ruff check backbones detector tools tests
	$(BIN)/ruff format --check backbones detector tools tests
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q -m "not faults and not compile" tests

# Everything but the tests marked `slow` (end to end, training, DDP, the wheel): the edit-test loop.
test-fast: $(STAMP)
	$(BIN)/ruff check backbones detector tools tests
	$(BIN)/python -m pytest -q -m "not slow and not faults and not compile" tests

# Every tool killed (SIGKILL, SIGTERM) at seeded random points, then run again or resumed: the outputs
# must equal an uninterrupted run's and no process may be left behind. CI runs it after `make test`.
test-faults: $(STAMP)
	$(BIN)/python -m pytest -q -s -m faults tests

# The tests marked `numerics` (training, round trips between code paths) under every MKL_CBWR
# branch this CPU supports and on 1 and 2 threads; run it before resolving work on a numeric path.
test-numerics: $(STAMP)
	$(BIN)/python -m tests.numerics

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser-test: $(STAMP)
	command -v chromium >/dev/null || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium)
	$(BIN)/python -m pytest -q -rs tests/detector/analysis/test_browser.py

lint: $(STAMP)
	$(BIN)/ruff check backbones detector tools tests
	$(BIN)/ruff format --check backbones detector tools tests
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(VENV) outputs .pytest_cache
