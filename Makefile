# The README's commands. Each installs what it needs first (scripts/bootstrap.sh).
.PHONY: setup demo test bench lint format

setup:
	@bash scripts/bootstrap.sh

demo: setup
	.venv/bin/headwater demo

test: setup
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/pytest -n 2 --dist loadgroup

bench:
	@bash scripts/bootstrap.sh --bench
	.venv/bin/python bench/broker.py
	.venv/bin/python bench/collector.py
	.venv/bin/python bench/cdc.py
	.venv/bin/python bench/snapshot.py
	.venv/bin/python bench/video.py
	.venv/bin/python bench/sink.py
	.venv/bin/python bench/e2e.py

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

format: setup
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .
