# The project's commands. Every target creates the virtual environment on first use.
PYTHON ?= python3.13
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)
export SAM_CLI_TELEMETRY := 0
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled
comma := ,

.PHONY: venv lint test test-unit test-integration test-e2e test-scale bench run run-regions demo token invoke browser build validate deploy \
	clean alarms mining mine openapi dlq dlq-show redrive trace rebuild rebuild-status rebuild-switch rebuild-drop

venv: $(STAMP)

# requirements-dev.txt pins every package, its dependencies' too: pip installs exactly those (no resolving),
# and `pip check` fails the build if a dependency is missing from it.
$(STAMP): requirements-dev.txt localcloud/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements-dev.txt
	$(BIN)/pip check --disable-pip-version-check
	touch $(STAMP)

# mypy: strict on what is deployed (layers/, functions/), mypy's defaults elsewhere (pyproject.toml).
TYPED := layers/eventcore/eventcore layers/orders/orders layers/payments/payments layers/inventory/inventory \
	layers/shipping/shipping \
	functions \
	ops bench tests/unit tests/integration tests/support tests/e2e tests/ops tests/regions localcloud/localcloud localcloud/tests demo

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(TYPED)

# Two pytest-xdist workers: a file's tests stay on one, the end-to-end modules (one shared local cloud)
# together (tests/conftest.py, tests/support/scheduling.py); half the time of one worker on 2 cores
# (BENCHMARKS.md, "The test suite"). Bytecode is cached even where PYTHONDONTWRITEBYTECODE is set: the
# suite starts hundreds of processes (function workers, local clouds) that import the same modules.
test: lint browser
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -n 2 --dist loadgroup --durations=15

test-unit: venv
	$(BIN)/pytest tests/unit

test-integration: venv
	$(BIN)/pytest tests/integration

test-e2e: venv
	$(BIN)/pytest tests/e2e

# Tests at the scale an issue names (tests/scale), minutes on 2 cores: not part of `make test`.
test-scale: venv
	$(BIN)/pytest -m scale tests/scale

BENCHMARKS := bench/command_path.py bench/projection.py bench/failover.py bench/flash_sale.py bench/mining.py bench/end_to_end.py bench/cost.py

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

# The local cloud resumes its state from .localcloud/ (git-ignored); FRESH=1 starts empty, VERBOSE=1 shows the
# functions' log lines under each invocation (they always go to .localcloud/functions.log).
run: venv
	$(BIN)/python -m localcloud run $(if $(FRESH),--fresh) $(if $(VERBOSE),--verbose)

# The local cloud in two regions, a primary (gateway :3000) and its standby (:3001), on one moto (:4566); each run
# starts empty (docs/failover.md, "Two regions on one machine"). python -m ops regions cut|list, ops failover.
run-regions: venv
	$(BIN)/python -m ops regions run

# make -s token CUSTOMER=wh-1 SCOPE="orders/warehouse orders/privacy" prints only the token: minted by the local
# cloud, or with STACK=<name> an access token of that deployed dev stack's own user pool (the user is made, or
# put in the scopes' staff groups, with Cognito's admin API: python -m ops token; README, "Deploy to AWS").
TOKEN_SCOPES = $(foreach scope,$(subst $(comma), ,$(SCOPE)),--scope $(scope))
token: venv
	@$(if $(STACK),$(OPS) token --user $(or $(CUSTOMER),alice) $(TOKEN_SCOPES),$(BIN)/python -m localcloud token --customer $(or $(CUSTOMER),alice) $(TOKEN_SCOPES))

demo: venv
	$(BIN)/python -m demo

invoke: venv
	@$(BIN)/python -m localcloud invoke $(FUNCTION) $(if $(EVENT),--event $(EVENT))

# The console's browser tests drive Debian's Chromium (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# --- Operations (docs/operations.md): against `make run` by default, a deployed stack with STACK=<name> ---
OPS = $(BIN)/python -m ops $(if $(STACK),--stack $(STACK)) $(if $(REGION),--region $(REGION)) $(if $(PROFILE),--profile $(PROFILE))

alarms: venv
	$(BIN)/python -m ops alarms --write

# mining.yaml (the archive's Glue table and Athena named queries) from ops/mining/queries/*.sql; a test fails
# when it is stale.
mining: venv
	$(BIN)/python -m ops mine --catalogue --write

# A named query (or SQL) over the archive with DuckDB: make mine QUERY=orders_by_day_and_campaign [SINCE= UNTIL=]
mine: venv
	$(OPS) mine $(if $(QUERY),"$(QUERY)",--list) $(if $(SINCE),--since $(SINCE)) $(if $(UNTIL),--until $(UNTIL))

# docs/openapi.json from the HTTP handlers' resolvers (offline: no AWS needed); a test fails when it is stale.
openapi: venv
	$(BIN)/python -m ops openapi --write

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
	$(OPS) rebuild $(or $(VIEW),OrdersView) $(if $(PROJECTION),--projection $(PROJECTION)) $(if $(IN_PLACE),--in-place) $(if $(FROM_ARCHIVE),--from-archive)

rebuild-status: venv
	$(OPS) rebuild status $(VIEW)

rebuild-switch: venv
	$(OPS) rebuild switch $(or $(VIEW),OrdersView) $(if $(TO),--to $(TO))

rebuild-drop: venv
	$(OPS) rebuild drop $(or $(VIEW),OrdersView) $(GENERATION)
