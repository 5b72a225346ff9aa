# The two commands of the README: `make demo` and `make test`.
VENV := .venv
PYENGINE := $(VENV)/bin/pyengine

.PHONY: demo test setup lint unit lab-down

setup:
	./scripts/bootstrap.sh

# The main job on the built-in lab: a first small playbook, then the nightly job
# (backup, baseline audit with its compliance table, security patching, backup again)
# and the morning report. The run history and the backup repository land in .pyengine/
# and config-backup/ of this folder (both ignored by git).
demo: setup
	$(PYENGINE) lab up -n 3
	$(PYENGINE) run playbooks/demo.yml
	$(PYENGINE) run playbooks/nightly.yml --report-json .pyengine/nightly.json
	$(PYENGINE) report -o report.html

lint: setup
	$(VENV)/bin/ruff check pyengine tests bench
	$(VENV)/bin/mypy pyengine

test: setup lint
	$(VENV)/bin/pytest -q

unit: setup
	$(VENV)/bin/pytest -q -m "not lab"

lab-down: setup
	$(PYENGINE) lab down
