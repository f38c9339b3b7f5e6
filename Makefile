# Every target installs what it needs into .venv by itself, so a fresh clone needs nothing else.
SHELL := /bin/bash
export SAM_CLI_TELEMETRY := 0
export PATH := $(CURDIR)/.venv/bin:$(PATH)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

PKITS := .cache/pkits/PKITS_data

.PHONY: test demo bench lint fuzz clean tools pkits conformance

$(STAMP): requirements.txt src/authorizer/requirements.txt pyproject.toml
	@command -v openssl >/dev/null && command -v curl >/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq openssl curl >/dev/null; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

tools: $(STAMP)

# NIST PKITS data from the cryptography-vectors wheel, pinned by version and hash.
$(PKITS)/.extracted: tests/conformance/requirements-pkits.txt | $(STAMP)
	@echo "fetching NIST PKITS data (cryptography-vectors, ~56 MB, hash-checked)"
	$(PY) -m pip download -q --disable-pip-version-check --no-deps --require-hashes \
		-r tests/conformance/requirements-pkits.txt -d .cache/wheels
	$(PY) -m nodegate.conformance --extract .cache/wheels $(PKITS)
	touch $@

pkits: $(PKITS)/.extracted

# The PKITS table per section (also run, with its targets, by make test).
conformance: pkits
	$(PY) -m nodegate.conformance $(PKITS)

test: $(STAMP) pkits
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(VENV)/bin/sam validate --lint -t template.yaml --region us-east-1
	$(PY) -m pytest -q -p no:cacheprovider

demo: $(STAMP)
	$(VENV)/bin/nodegate demo

bench: $(STAMP)
	$(PY) bench/run.py

fuzz: $(STAMP)
	NODEGATE_FUZZ_EXAMPLES=20000 $(PY) -m pytest -q -p no:cacheprovider tests/test_fuzz.py

# checkov lives in its own virtualenv: its dependencies would move the pins of the main one.
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/cfn-lint template.yaml
	test -x .venv-lint/bin/checkov || { $(PYTHON) -m venv .venv-lint && .venv-lint/bin/pip install -q checkov==3.3.30; }
	.venv-lint/bin/checkov -f template.yaml --framework cloudformation --quiet --compact --skip-download

clean:
	rm -rf $(VENV) .venv-lint .pytest_cache .ruff_cache .cache
