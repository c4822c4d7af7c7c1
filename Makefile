# Everything a fresh machine needs: `make run` (gateway + embedded sandbox) and `make test` (every test).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
INDEX_STAMP := .index/.built-stamp
CORPUS := $(wildcard docs_corpus/*.md)

.PHONY: run test lint install index node view system-deps bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# The docs index is rebuilt when it is missing or older than any page of the corpus, the search code, or
# config.toml (the links in search results carry [search] docs_base_url).
index: $(INDEX_STAMP)

$(INDEX_STAMP): $(STAMP) $(CORPUS) $(wildcard search/*.py) config.toml
	$(VENV)/bin/statuspal-mcp build-index
	touch $@

run: $(STAMP) $(INDEX_STAMP)
	$(VENV)/bin/statuspal-mcp serve

# Debian packages the tests drive for real: redis-server, Chromium, wrk (benchmarks).
system-deps:
	@bash scripts/install_system_deps.sh

# Node 22 from the npm registry, with the MCP conformance suite, Inspector CLI and the TypeScript SDK peers, under .node/.
node:
	@bash scripts/install_node.sh

# The publish preview (an MCP App view) rebuilt from views/publish-preview into gateway/protocol/views/. The built
# file is committed, so `make run` needs no Node; run this after changing the view, and commit both.
WITH_NODE22 := PATH="$(CURDIR)/.node/node22/node_modules/.bin:$$PATH"
view: node
	cd views/publish-preview && $(WITH_NODE22) npm ci --offline --cache "$(CURDIR)/.node/npm-cache" \
		--ignore-scripts --no-audit --no-fund --loglevel=error && $(WITH_NODE22) node build.mjs

# Lint first: a style or type error fails in seconds, before minutes of tests. Paths and rules are in pyproject.toml.
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

# One worker per core (pytest-xdist); --dist loadfile keeps a module's tests on one worker, so the gateways,
# child processes and fuzz targets a module shares start once rather than once per worker.
test: lint $(STAMP) $(INDEX_STAMP) system-deps node
	$(PY) -m pytest -q -p no:cacheprovider -n auto --dist loadfile

# The gateway against the SDK server and the floors, then (bench.peers) with 1 and N workers against the TypeScript
# SDK's servers and the Python SDK's: both run, and the exit code is 1 when either missed a target.
bench: $(STAMP) $(INDEX_STAMP) system-deps node
	$(PY) -m bench; first=$$?; $(PY) -m bench.peers; exit $$(( first || $$? ))

clean:
	rm -rf $(VENV) .index .node
