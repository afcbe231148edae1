# homelab: the two commands of a fresh machine are `make synth` and `make test`.
# Each sets up .venv with the pinned dependencies of pyproject.toml on first use.

ENV ?= mirkwood
# STACK_DIR=folder: take Pulumi.<env>.yaml (and the production stack files it is compared with)
# from there instead of the project root; synth, policy, graph and critical-path pass it on.
STACK_DIR ?=
STACK_DIR_ARG = $(if $(STACK_DIR),--stack-dir $(STACK_DIR))
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: venv synth plan test test-hosts clean policy-venv policy bench critical-path graph bump-image

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
	print('\n'.join(p['dependencies'] + p['optional-dependencies']['test']))" > $(VENV)/requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r $(VENV)/requirements.txt
	touch $@

venv: $(VENV)/.installed

## synth: render ENV (default mirkwood) offline under Pulumi's mocks into build/ENV/ (STACK_DIR=... for a
## stack file elsewhere)
synth: venv
	$(PY) -m synth --env $(ENV) $(STACK_DIR_ARG)

## plan: predict what `pulumi preview` would do to ENV going from BASE (a git ref or a folder holding
## the project; default main) to the working tree -> build/plan/ENV.{json,md} (README "Day 2")
BASE ?= main
plan: venv
	$(PY) -m synth.plan --env $(ENV) --base $(BASE) $(STACK_DIR_ARG)

## test: the whole test suite
test: venv
	$(PY) -m pytest

## test-hosts: host provisioning for real: cloud-init schema, shellcheck, provision.sh run twice in a
## debootstrap'd Debian bookworm and trixie (needs root; the rootfs are cached in ~/.cache/homelab/)
test-hosts: venv
	$(PY) -m pytest tests/test_cloudinit.py tests/test_cloudinit_schema.py tests/test_cloudinit_script.py \
	  tests/test_linode.py tests/test_onboard.py

## policy-venv: the policy pack's own virtualenv (pulumi-policy pins an older protobuf than .venv)
POLICY_VENV := .venv-policy
$(POLICY_VENV)/.installed: policy/requirements.txt
	$(PYTHON) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r policy/requirements.txt
	touch $@

policy-venv: $(POLICY_VENV)/.installed

## policy: synth each environment (ENV=... for one) and run the policy pack over build/<env>/resources.json
# With STACK_DIR and no ENV: every Pulumi.<env>.yaml in that folder.
STACK_DIR_ENVS = $(patsubst Pulumi.%.yaml,%,$(notdir $(wildcard $(STACK_DIR)/Pulumi.*.yaml)))
POLICY_ENVS = $(if $(filter command line environment,$(origin ENV)),$(ENV),$(if $(STACK_DIR),$(STACK_DIR_ENVS),mirkwood lothlorien))
policy: venv policy-venv
	@for env in $(POLICY_ENVS); do $(PY) -m synth --env $$env $(STACK_DIR_ARG) || exit 1; done
	$(POLICY_VENV)/bin/python -m policy.offline $(foreach env,$(POLICY_ENVS),--env $(env))

## bench: program synth vs the SDK floor at 10, 100, 1000 hosts -> build/bench.json (synth/BENCH.md)
bench: venv
	$(PY) -m synth.bench $(BENCH_ARGS)

## critical-path: estimated `up` time of ENV vs the serial sum (LATENCY=file.yaml overrides the model)
critical-path: synth
	$(PY) -m synth.critical_path --env $(ENV) $(if $(LATENCY),--latency $(LATENCY))

## graph: ENV's dependency graph, critical path in red -> build/graph/ENV.{dot,svg,png}
graph: synth
	$(PY) -m synth.graph --env $(ENV) $(if $(LATENCY),--latency $(LATENCY))

clean:
	rm -rf build .pytest_cache

## bump-image: move the catalog entry DIST (e.g. debian12) to its publisher's newest build, its
## checksum and its virtual size (qcow2 header) (needs network; see README "Keeping pins current")
bump-image: venv
	$(PY) -m pins.bump_image --dist $(DIST)
