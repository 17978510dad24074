# LUNA-Narrates: `make run` (the app) and `make test` (the suite) on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# A fresh checkout needs no SECRET_KEY: these commands take the keys the environment does not give from
# the data folder, where they are generated once (luna_site/checkout_settings.py). Production does not use make.
export DJANGO_SETTINGS_MODULE ?= luna_site.checkout_settings

.PHONY: install run serve scale-check test lint bench load migrate demo stop backup restore dbshell chromium screenshots llm-check

install: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $@

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py demo_data

run: demo
	bin/run

# The production way (gunicorn + Celery, DEBUG off, collected static files): bin/serve, docs/operations.md.
serve: migrate
	bin/serve

# Scale-out shown (issue 18): PostgreSQL and Redis as separate TCP servers, 2 web + 2 worker nodes, players
# driven, no turn lost or doubled, every Dreamer task once. Minutes; not part of `make test`. bench/scale_check.py.
scale-check: install
	$(PY) -m bench.scale_check $(ARGS)

chromium:
	@command -v chromium >/dev/null || { apt-get update && apt-get install -y --no-install-recommends chromium; }

test: install chromium
	$(PY) -m pytest

screenshots: install chromium
	LUNA_SCREENSHOTS=docs/screenshots $(PY) -m pytest -m browser -q

# ruff, then the import contracts in .importlinter (the apps' layers: docs/architecture.md).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-logo

bench: migrate
	$(PY) -m bench

# Load through bin/serve on loopback (LOAD_PLAYERS=50 players x LOAD_TURNS=20 turns, at 1+1 and 2+2
# processes; minutes, not part of `make test`): its section of BENCHMARKS.md. docs/operations.md, "Load".
load: migrate
	$(PY) -m bench load

# The configured model server, per agent: `make llm-check`, or `make llm-check ARGS="--model qwen2.5"`.
llm-check: install
	$(PY) manage.py llm_check $(ARGS)

dbshell: install
	$(PY) manage.py dbshell

# Backups (docs/operations.md, "Backups"): pg_dump of every row, as a role that bypasses RLS; restore replaces
# the database with a dump in one transaction (stop the app first): `make restore DUMP=.data/backups/luna-….dump`.
backup: install
	$(PY) manage.py backup

restore: install
	@test -n "$(DUMP)" || { echo "usage: make restore DUMP=path/to/luna-….dump" >&2; exit 2; }
	$(PY) manage.py restore "$(DUMP)"

stop: install
	$(PY) -c "from luna_site import embedded; embedded.stop_redis(); embedded.stop_postgres()"
