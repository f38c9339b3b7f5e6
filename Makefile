# Every target installs what it needs into .venv by itself, so a fresh clone needs nothing else.
SHELL := /bin/bash
export SAM_CLI_TELEMETRY := 0
export PATH := $(CURDIR)/.venv/bin:$(PATH)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo

PKITS := .cache/pkits/PKITS_data

.PHONY: test demo build preflight deploy bench bench-record lint fuzz clean tools pkits conformance mutate

SYSTEM_TOOLS = command -v openssl >/dev/null && command -v curl >/dev/null || \
	{ apt-get update -qq && apt-get install -y -qq openssl curl >/dev/null; }

# The developer toolchain (tests, linters, SAM CLI); it includes what the demo needs.
$(STAMP): requirements.txt requirements-demo.txt src/authorizer/requirements.txt pyproject.toml
	@$(SYSTEM_TOOLS)
	PYTHON=$(PYTHON) scripts/ensure-venv requirements.txt $@
	touch $(DEMO_STAMP)

# Only what `make demo` needs: the Lambda's pinned runtime, moto's S3 server and the CLI.
$(DEMO_STAMP): requirements-demo.txt src/authorizer/requirements.txt pyproject.toml
	@$(SYSTEM_TOOLS)
	PYTHON=$(PYTHON) scripts/ensure-venv requirements-demo.txt $@

tools: $(STAMP)

# NIST PKITS data from the cryptography-vectors wheel, pinned by version and hash.
$(PKITS)/.extracted: tests/conformance/requirements-pkits.txt | $(STAMP)
	@echo "fetching NIST PKITS data (cryptography-vectors, ~56 MB, hash-checked)"
	$(PY) -m pip download -q --disable-pip-version-check --no-deps --require-hashes \
		-r tests/conformance/requirements-pkits.txt -d .cache/wheels
	$(PY) -m nodegate_dev.conformance --extract .cache/wheels $(PKITS)
	touch $@

pkits: $(PKITS)/.extracted

# The PKITS table per section (also run, with its targets, by make test).
conformance: pkits
	$(PY) -m nodegate_dev.conformance $(PKITS)

test: $(STAMP) pkits
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(VENV)/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(VENV)/bin/sam validate --lint -t template.yaml --region us-east-1
	$(PY) -m pytest -q -p no:cacheprovider

demo: $(DEMO_STAMP)
	$(VENV)/bin/nodegate demo

# The AWS deploy path: the pre-flight checks (nodegate preflight), sam build with a python3.12 (PATH or pyenv) or in
# a container, then sam deploy.
build: $(STAMP)
	scripts/sam-build

# Checks the account before anything is built or created (README, Deploy: pre-flight).
preflight: $(STAMP)
	$(VENV)/bin/nodegate preflight

deploy: preflight build
	$(VENV)/bin/sam deploy

bench: $(STAMP)
	$(PY) bench/run.py

bench-record: $(STAMP)
	$(PY) bench/run.py --record

fuzz: $(STAMP)
	NODEGATE_FUZZ_EXAMPLES=20000 NODEGATE_DER_FUZZ_EXAMPLES=10000 $(PY) -m pytest -q -p no:cacheprovider tests/functional/test_fuzz.py tests/functional/test_der_fuzz.py

# checkov lives in its own virtualenv: its dependencies would move the pins of the main one.
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/cfn-lint template.yaml
	test -x .venv-lint/bin/checkov || { $(PYTHON) -m venv .venv-lint && .venv-lint/bin/pip install -q checkov==3.3.30; }
	.venv-lint/bin/checkov -f template.yaml --framework cloudformation --quiet --compact --skip-download

# Mutation testing of the security-critical modules (mutmut 2, in its own virtualenv: it mutates the files in
# place, so do not edit the tree while it runs). Results: .mutmut-cache; `make mutate` prints them.
comma := ,
space := $(empty) $(empty)
MUTATE_MODULES ?= chain names name_constraints policies certificates truststore identity access_policy response \
	event decision revocation/answers revocation/crl revocation/crl_validation revocation/checker \
	revocation/ocsp revocation/plan revocation/cache
MUTATE_PATHS := $(subst $(space),$(comma),$(foreach m,$(MUTATE_MODULES),src/authorizer/nodegate_authorizer/$(m).py))

mutate: $(STAMP) pkits
	test -x .venv-mutate/bin/mutmut || { $(PYTHON) -m venv .venv-mutate && .venv-mutate/bin/pip install -q mutmut==2.5.1; }
	.venv-mutate/bin/mutmut run --paths-to-mutate "$(MUTATE_PATHS)" --runner scripts/mutation-runner \
		--tests-dir tests/unit --no-progress || true
	.venv-mutate/bin/python scripts/mutation-report

clean:
	rm -rf $(VENV) .venv-lint .venv-mutate .mutmut-cache .pytest_cache .ruff_cache .cache
