# Two commands do all the set-up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)

# Tests never need a real secret; production must set SECRET_KEY itself.
TEST_ENV := SECRET_KEY=test-only-not-secret DEBUG=0 PUBLIC_BASE_URL=http://127.0.0.1:8000
DEV_ENV := DEBUG=1 DOCUMENT_CACHE=1 TASKS_IN_PROCESS_WORKER=1

.PHONY: help install run serve stack-tools test lint schema bench bench-tools faults examples clean

help:
	@echo "make run    - set up and serve the API on http://127.0.0.1:8000 (SQLite, development settings)"
	@echo "make test   - run the whole test suite (SQLite unless DATABASE_URL is set)"
	@echo "make serve  - the production stack (nginx, gunicorn, task worker) on http://127.0.0.1:8000 (PORT)"
	@echo "make bench  - load and instruction benchmarks against PostgreSQL (see benchmarks/README.md)"
	@echo "make faults - the fault drills: PostgreSQL restart, Redis outage and pause, row lock, black-holed database, exhausted connection slots, webhook worker killed"
	@echo "make lint   - ruff"
	@echo "make schema - rewrite the committed OpenAPI schema (schema.yml) after an API change"
	@echo "make examples - rewrite the schema's response examples from the seed documents, then the schema"

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

run: install
	$(DEV_ENV) $(PY) manage.py migrate --noinput
	$(DEV_ENV) $(PY) manage.py seed
	$(DEV_ENV) $(PY) manage.py runserver 127.0.0.1:8000

# The production stack needs nginx (Debian's package), installed when missing.
stack-tools:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || \
		(apt-get update -qq && apt-get install -y -qq nginx >/dev/null)

# Production requires PUBLIC_BASE_URL (the links in emails); on one machine it is this one.
serve: export PUBLIC_BASE_URL ?= http://127.0.0.1:8000
# nginx answers anonymous reads from its own copy for this long (README, "Edge cache"); 0: not at all.
serve: export EDGE_CACHE_SECONDS ?= 1
# nginx on PORT in front of gunicorn on a UNIX socket, plus the task worker (deploy/stack.py).
serve: install stack-tools
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) -m deploy.stack serve

test: install
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

# The benchmarks need wrk and valgrind (Debian packages), installed when missing.
bench-tools:
	@command -v wrk >/dev/null && command -v valgrind >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq wrk valgrind >/dev/null)

bench: install bench-tools stack-tools
	$(PY) benchmarks/bench.py
	$(PY) benchmarks/instructions.py

faults: install
	$(PY) benchmarks/faults.py
	$(PY) benchmarks/webhook_delivery.py --drill

schema: install
	$(TEST_ENV) $(PY) manage.py spectacular --validate --fail-on-warn --file schema.yml

# The schema's response examples are seed documents as served; rewrite them, then the schema.
examples: install
	$(TEST_ENV) WRITE_EXAMPLES=1 $(PY) -m pytest -q tests/test_openapi.py -k response_example
	$(MAKE) schema

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 .pytest_cache
