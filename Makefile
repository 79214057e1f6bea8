# containerpoker — everyday commands. `make` alone lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV := scripts/uv.sh
RUN := $(UV) run --frozen --no-sync
CP := $(RUN) containerpoker
export CONTAINERPOKER_DATA_DIR ?= $(CURDIR)/var
export UV_COMPILE_BYTECODE := 1
PYTEST_ARGS ?=
# Markers with a focused target of their own, which make test and make test-fast leave out.
OWN_TARGETS := cluster or swarm_molecule or compose or faults_full or ops or challenges

.PHONY: help run dev compose assets engine sync images db-upgrade pools status stop logs clean format lint ansible-test test test-fast test-faults test-ops test-challenges test-cluster test-compose test-deps molecule images-archive box host-deps host-check test-vm learner-image molecule-swarm docs

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36mmake %-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: engine sync images assets db-upgrade pools ## Set up everything, warm the pools and serve the portal (port 5000)
	@echo
	@echo "The pools are warm. First admin:  .venv/bin/containerpoker user create NAME --email E --admin"
	@echo "Stop everything with:             make stop  (Ctrl-C stops the portal only)"
	@$(CP) portal

dev: engine sync images assets db-upgrade pools ## Serve the portal with auto-reload (Python and templates) for development
	@$(CP) portal --dev

compose: engine sync images assets ## The portal as a compose service (compose.yaml): build its image, then docker-compose up
	@command -v docker-compose >/dev/null || { echo "docker-compose is missing: install Debian's (sudo apt-get install docker-compose), then run make compose again." >&2; exit 1; }
	@scripts/portal-wheels.sh
	@docker-compose up --build

engine: ## Make sure a Docker engine runs (installs Debian's docker.io as root when missing)
	@scripts/engine.sh

sync: ## Create/refresh the Python environment (.venv) from uv.lock
	@$(UV) sync --frozen --quiet

images: engine sync ## Build the runtime images that are missing or outdated
	@$(CP) images build

learner-image: engine ## Build the learners' own Docker engine image (challenges, CONTAINERPOKER_SANDBOX_ENABLED)
	@docker build -q -t containerpoker/learner-engine infrastructure/images/learner-engine

assets: ## Install the browser libraries the portal serves (xterm.js, from npm)
	@scripts/assets.sh

db-upgrade: sync ## Bring the database's schema up to date (make run and make dev do this first)
	@$(CP) db upgrade

pools: ## Warm every pool to its size
	@$(CP) pool init

status: ## Show the pools
	@$(CP) pool status

stop: ## Stop the platform: the portal, its recovery monitor, its containers and volumes
	@if docker info >/dev/null 2>&1 && [ -x .venv/bin/containerpoker ]; then $(CP) stop; else echo "Nothing running."; fi

logs: ## Show recent platform events, the portal's access log, the recovery monitor's and the engine's logs
	@$(CP) pool events --limit 40
	@if [ -f "$(CONTAINERPOKER_DATA_DIR)/portal-access.log" ]; then echo "--- portal ($(CONTAINERPOKER_DATA_DIR)/portal-access.log)"; tail -n 15 "$(CONTAINERPOKER_DATA_DIR)/portal-access.log"; fi
	@if [ -f "$(CONTAINERPOKER_DATA_DIR)/monitor.log" ]; then echo "--- recovery monitor ($(CONTAINERPOKER_DATA_DIR)/monitor.log)"; tail -n 15 "$(CONTAINERPOKER_DATA_DIR)/monitor.log"; fi
	@if [ -f /var/log/containerpoker-dockerd.log ]; then echo "--- engine (/var/log/containerpoker-dockerd.log)"; tail -n 15 /var/log/containerpoker-dockerd.log; fi

clean: stop ## Stop, then delete local state, the environment and caches
	rm -rf var .venv .pytest_cache .ruff_cache test-artifacts node_modules .import_linter_cache site
	rm -rf collections/ansible_collections/containerpoker/lab/tests/output
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

format: sync ## Format the code and apply safe lint fixes
	@$(RUN) ruff format app tests bench collections molecule
	@$(RUN) ruff check --fix app tests bench collections molecule

lint: sync ## Check formatting, lint and the architecture (ruff, lint-imports, ansible-lint production profile, ansible-test sanity)
	@$(RUN) ruff format --check app tests bench collections molecule
	@$(RUN) ruff check app tests bench collections molecule
	@$(RUN) lint-imports
	@PATH="$(CURDIR)/.venv/bin:$$PATH" $(RUN) ansible-lint -q lessons.yml playbooks/ tests/ansible/playbooks collections/ molecule/
	@scripts/ansible-test.sh sanity

ansible-test: sync ## ansible-test sanity and units on the collection (offline after the first run)
	@scripts/ansible-test.sh

docs: sync ## Build the manual (docs/, mkdocs.yml) into site/, offline; first refresh docs/img/dashboard.png from a newer browser-test screenshot
	@shot=test-artifacts/screenshots/dashboard.png; \
	if [ "$$shot" -nt docs/img/dashboard.png ]; then cp "$$shot" docs/img/dashboard.png; echo "docs/img/dashboard.png: refreshed from $$shot"; fi
	@$(RUN) mkdocs build --strict --site-dir site
	@echo "The manual: site/index.html"

test-deps: ## Install what the tests need beyond the engine (PostgreSQL server binaries, Chromium)
	@scripts/test-deps.sh

test: engine sync images assets test-deps ## Run every test against the real engine (what CI runs)
	@scripts/ansible-test.sh units
	@$(RUN) pytest -m "not (converge or molecule or $(OWN_TARGETS))" $(PYTEST_ARGS)
	@# Last: systemd host containers with the host's cgroups mounted (docs/development.md: Tests).
	@$(RUN) pytest -m "(converge or molecule) and not ($(OWN_TARGETS))" $(PYTEST_ARGS)

test-fast: engine sync images assets test-deps ## The quick day-to-day subset (skips the slow tests)
	@scripts/ansible-test.sh units
	@$(RUN) pytest -m "not (slow or converge or molecule or faults or $(OWN_TARGETS))" $(PYTEST_ARGS)

test-compose: engine sync images test-deps ## The compose path: build the portal's image, docker-compose up, an edit live, down (tests/e2e/test_compose.py)
	@$(RUN) pytest -m compose $(PYTEST_ARGS)

test-faults: engine sync images ## The whole fault suite (tests/faults), Docker daemon restart included: it stops every container on the engine
	@CONTAINERPOKER_FAULTS_ENGINE=1 $(RUN) pytest -m faults $(PYTEST_ARGS)

test-ops: engine sync images test-deps ## Backup and restore end to end, SQLite and PostgreSQL, with served portals (about 2 min)
	@$(RUN) pytest -m ops $(PYTEST_ARGS)

test-challenges: engine sync images assets test-deps learner-image ## The lessons' challenges on real learner engines (nested Docker): each solution passes, each mistake stays pending
	@$(RUN) pytest -m challenges $(PYTEST_ARGS)

test-cluster: engine sync images ## A real 3-node Swarm of systemd host containers: the Swarm backend on it (tests/cluster)
	@$(RUN) pytest -m cluster $(PYTEST_ARGS)

molecule: engine sync images ## Run every role's Molecule scenario (molecule/<role>/): converge, idempotence, testinfra
	@$(RUN) pytest -m molecule $(PYTEST_ARGS)

molecule-swarm: engine sync images ## The swarm scenario alone: three fresh hosts made one platform by site.yml, twice (15-40 min)
	@$(RUN) pytest -m swarm_molecule $(PYTEST_ARGS)

images-archive: images ## Save the images into var/images.tar, for hosts that cannot build or pull (the VM)
	@mkdir -p var && docker save -o var/images.tar containerpoker/nginx containerpoker/apache containerpoker/python containerpoker/node debian:bookworm-slim
	@echo "var/images.tar: $$(du -h var/images.tar | cut -f1)"

host-deps: ## Install Vagrant, vagrant-libvirt, libvirt and QEMU (Debian/Ubuntu; prints the commands elsewhere)
	@scripts/host.sh deps

host-check: ## Check what `vagrant up` needs on this host, saying what to do for each miss
	@scripts/host.sh check

box: ## Build the offline Debian bookworm box from Debian packages and add it (containerpoker/bookworm)
	@scripts/box.sh

test-vm: engine sync images test-deps ## vagrant up for real, check the portal, lesson 2's terminal in Chromium and lesson 1 from the host, destroy
	@scripts/test-vm.sh
