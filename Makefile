# homelab: the two commands of a fresh machine are `make synth` and `make test`.
# Each sets up .venv with the pinned dependencies of pyproject.toml on first use.

ENV ?= mirkwood
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: venv synth test bench critical-path graph clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
	print('\n'.join(p['dependencies'] + p['optional-dependencies']['test']))" > $(VENV)/requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r $(VENV)/requirements.txt
	touch $@

venv: $(VENV)/.installed

## synth: render ENV (default mirkwood) offline under Pulumi's mocks into build/ENV/
synth: venv
	$(PY) -m synth --env $(ENV)

## test: the whole test suite
test: venv
	$(PY) -m pytest

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
