# The two commands of the README: `make demo` and `make test`.
VENV := .venv
PYENGINE := $(VENV)/bin/pyengine

.PHONY: demo test setup lint unit lab-down

setup:
	./scripts/bootstrap.sh

demo: setup
	$(PYENGINE) lab up -n 3
	$(PYENGINE) run playbooks/demo.yml

lint: setup
	$(VENV)/bin/ruff check pyengine tests bench
	$(VENV)/bin/mypy pyengine

test: setup lint
	$(VENV)/bin/pytest -q

unit: setup
	$(VENV)/bin/pytest -q -m "not lab"

lab-down: setup
	$(PYENGINE) lab down
