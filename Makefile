# Two commands set everything up: `make demo` and `make test`. Both create or reuse .venv here.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO_TASK ?= put the red cube in the tray, then stack the blue cube on the green cube

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test bench clean

$(PY):
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python venv module missing: installing python3-venv"; \
	  apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }

# torch first and pinned: a CPU build of exactly 2.13.0 is served locally; any other version
# would pull gigabytes of CUDA wheels.
$(STAMP): $(PY) setup.py setup.cfg package.xml
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

demo: $(STAMP)
	$(VENV)/bin/skillstack run "$(DEMO_TASK)" --seed 0 --video runs/demo/video.mp4

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/retrieval.py
	$(PY) bench/control_rate.py
	$(PY) bench/task_success.py

clean:
	rm -rf $(VENV) runs *.egg-info
