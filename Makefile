# The two commands of the README: `make run` and `make test`. Everything else is a step of those.
PYTHON ?= python3
VENV ?= .local/venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install stack-up stack-down stack-status lint typecheck unit integration bench clean

# constraints.txt pins every dependency to versions the test suite passed with (published JSON Schemas depend
# on pydantic's exact version); refresh it with `.local/venv/bin/pip freeze --exclude-editable > constraints.txt`.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

# Browser assets the console and /docs serve (Swagger UI, Chart.js), from npm into the git-ignored node_modules/;
# --ignore-scripts: no package runs code at install time.
NODE_STAMP := node_modules/.installed
$(NODE_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP)

stack-up: install
	$(BIN)/orderinfo stack up

stack-down:
	@test -x $(BIN)/orderinfo && $(BIN)/orderinfo stack down || true

stack-status: install
	$(BIN)/orderinfo stack status

## Run the service on the local stack in the foreground; Ctrl-C stops everything it started.
run: install
	$(BIN)/orderinfo run

lint: install
	$(BIN)/ruff check services tools tests benchmarks
	$(BIN)/ruff format --check services tools tests benchmarks

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest tests/unit tests/contract -q -m "not integration"

integration: stack-up
	$(BIN)/pytest tests/integration -q

## Lint, type-check, then every test against the real Kafka and PostgreSQL (started here if not running).
test: lint typecheck stack-up
	$(BIN)/pytest -q

bench: stack-up
	$(BIN)/python -m benchmarks.run

clean: stack-down
	rm -rf .local
