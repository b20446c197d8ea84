# Responer — the entry points a person uses. See README.md.
SHELL := /bin/bash
UV ?= uv
PY := .venv/bin/python
PROTO_OUT := libs/events
# Everything we lint (folders that do not exist yet are skipped); generated code is excluded in pyproject.toml.
LINT_PATHS = $(wildcard libs services tests bench)
PYTEST_ARGS ?=
HTTP_PORT ?= 8080

.PHONY: install proto lint typecheck test up bench bench-search clean distclean help

help:
	@echo "make up       start PostgreSQL, NATS, dovecot, an SMTP catcher and all services with demo data"
	@echo "make test     install, lint, then every test tier (PYTEST_ARGS='-k foo' to narrow)"
	@echo "make install  uv, .venv from uv.lock, generated protobuf code, dovecot/chromium/postgresql"
	@echo "make lint     ruff check + ruff format --check"
	@echo "make bench    the benchmark harness (bench/run.sh)"
	@echo "make clean    remove .state/, caches and generated code (distclean also removes .venv)"

install:
	@bash scripts/install.sh

proto:
	@$(PY) -m grpc_tools.protoc -I proto --python_out=$(PROTO_OUT) --pyi_out=$(PROTO_OUT) --grpc_python_out=$(PROTO_OUT) \
	  $$(find proto -name '*.proto' | sort)
	@find $(PROTO_OUT)/responer -type d -exec touch {}/__init__.py \;

lint:
	@.venv/bin/ruff check $(LINT_PATHS)
	@.venv/bin/ruff format --check $(LINT_PATHS)

# Not part of `lint` yet: it does not pass on all of libs/runtime and the domains.
typecheck:
	@.venv/bin/mypy --ignore-missing-imports libs/runtime/responer_runtime $(wildcard services/*/responer_*/domain)

test: install
	@$(MAKE) --no-print-directory lint
	@rc=0; $(PY) -m pytest -ra --durations=10 $(PYTEST_ARGS) || rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; fi; \
	  exit $$rc

up: install
	@.venv/bin/responer dev up --http-port $(HTTP_PORT)

bench-threading: install  ## threading quality (20k generated), usrp groupings, decisions/s (100k)
	@$(PY) bench/threading_quality.py --count 20000 --seed 4404; $(PY) bench/threading_usrp.py; \
	  $(PY) bench/threading_throughput.py --count 100000 --pg-count 10000 --json bench/out/threading_throughput.json

bench: install
	@if [ -x bench/run.sh ] || [ -f bench/run.sh ]; then bash bench/run.sh; \
	  else echo "make bench: bench/run.sh does not exist yet. The harness goes there; see docs/operations.md."; fi

# Search at scale (issue 6): SIZE messages (default 1,000,000) into PostgreSQL, query mix next to notmuch.
# The corpus and parsed events are cached in $(BENCH_CACHE) (default ~/.cache/responer-bench).
bench-search: install
	@$(PY) bench/search_bench.py --size $${SIZE:-1000000} --json bench/out/search_$${SIZE:-1000000}.json

clean:
	rm -rf .state .pytest_cache .ruff_cache .mypy_cache bench/out libs/events/responer
	find . -path ./.venv -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf .venv
