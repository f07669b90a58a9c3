# The project's commands. Every target creates the virtual environment on first use.
PYTHON ?= python3.13
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)
export SAM_CLI_TELEMETRY := 0
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled

.PHONY: venv lint test test-unit test-integration test-e2e bench run demo token invoke build validate deploy clean \
	alarms dlq dlq-show redrive trace rebuild rebuild-status rebuild-switch rebuild-drop

venv: $(STAMP)

$(STAMP): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

# mypy: strict on what is deployed (layers/, functions/), mypy's defaults elsewhere (pyproject.toml).
TYPED := layers/microsystem/microsystem layers/orders/orders layers/payments/payments layers/inventory/inventory \
	functions \
	ops bench tests/unit tests/integration tests/support tests/e2e tests/ops

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(TYPED)

test: lint
	$(BIN)/pytest

test-unit: venv
	$(BIN)/pytest tests/unit

test-integration: venv
	$(BIN)/pytest tests/integration

test-e2e: venv
	$(BIN)/pytest tests/e2e

BENCHMARKS := bench/command_path.py bench/projection.py bench/end_to_end.py bench/cost.py

# In-process benchmarks first: the end-to-end one starts a whole local cloud of worker processes.
bench: venv
	@for script in $(BENCHMARKS); do echo "== $$script"; $(BIN)/python $$script || exit 1; done

validate: venv
	$(BIN)/sam validate --lint --template template.yaml

build: venv
	$(BIN)/sam build --template template.yaml

deploy: build
	$(BIN)/sam deploy $(if $(ENV),--config-env $(ENV))

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .ruff_cache

run: venv
	$(BIN)/python -m localcloud run

token: venv
	@$(BIN)/python -m localcloud token --customer $(or $(CUSTOMER),alice)

demo: venv
	$(BIN)/python -m demo

invoke: venv
	$(BIN)/python -m localcloud invoke $(FUNCTION) --event $(EVENT)

# --- Operations (docs/operations.md): against `make run` by default, a deployed stack with STACK=<name> ---
OPS = $(BIN)/python -m ops $(if $(STACK),--stack $(STACK))

alarms: venv
	$(BIN)/python -m ops alarms --write

dlq: venv
	$(OPS) dlq list

dlq-show: venv
	$(OPS) dlq show $(QUEUE)

redrive: venv
	$(OPS) dlq redrive $(QUEUE)

trace: venv
	$(OPS) trace $(ORDER)

# Blue/green read models (docs/read-side.md): build a new generation (PROJECTION=module:attr for new logic, or
# IN_PLACE=1 to repair the active one), look, switch (TO=green|blue), drop the previous one.
rebuild: venv
	$(OPS) rebuild $(or $(VIEW),OrdersView) $(if $(PROJECTION),--projection $(PROJECTION)) $(if $(IN_PLACE),--in-place)

rebuild-status: venv
	$(OPS) rebuild status $(VIEW)

rebuild-switch: venv
	$(OPS) rebuild switch $(or $(VIEW),OrdersView) $(if $(TO),--to $(TO))

rebuild-drop: venv
	$(OPS) rebuild drop $(or $(VIEW),OrdersView) $(GENERATION)
