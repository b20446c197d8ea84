# Responer — the entry points a person uses. See README.md.
SHELL := /bin/bash
UV ?= uv
PY := .venv/bin/python
PROTO_OUT := libs/events

.PHONY: install proto lint test up bench

install:
	@bash scripts/install.sh

proto:
	@$(PY) -m grpc_tools.protoc -I proto --python_out=$(PROTO_OUT) --pyi_out=$(PROTO_OUT) --grpc_python_out=$(PROTO_OUT) \
	  $$(find proto -name '*.proto' | sort)
	@find $(PROTO_OUT)/responer -type d -exec touch {}/__init__.py \;
