# The commands the README names. `make test` is what CI runs (.ci/run).

CARGO ?= cargo
BUF := tools/buf/node_modules/.bin/buf

.PHONY: dev test lint fmt-check clippy buf-lint docs-check import-cycles chart-check unit services tools bench web web-test
.PHONY: image image-check image-run-test pod-test image-test image-test-debug image-clean

## dev: build the web screens, then run the gateway and every service in one process on
## 127.0.0.1:50051 (screens at http://127.0.0.1:50051/); another port: make dev LISTEN=127.0.0.1:50052
dev: web
	$(CARGO) run --release -p kaigo -- dev $(if $(LISTEN),--listen $(LISTEN))

## test: everything CI checks: format, lints, API lint, docs citations, chart, all tests on real
## PostgreSQL and Redis, the web screens in a real browser against kaigo dev, and the image
## built, run and played as pods (image-test-debug; skipped, saying so, without podman)
test: lint chart-check unit web-test image-check image-test-debug

lint: docs-check import-cycles fmt-check clippy buf-lint

## docs-check: no tracked file cites a document outside the repository, and every citation of a
## docs/ page and anchor resolves (about a second)
docs-check:
	python3 scripts/docs-check/check.py

## import-cycles: no two modules of a crate import each other, directly or in a circle (the
## circles still open are listed, with why, in the script)
import-cycles:
	python3 scripts/import-cycles/check.py

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

$(BUF): tools/buf/package.json tools/buf/package-lock.json
	cd tools/buf && npm ci --no-audit --no-fund --loglevel=error
	touch $(BUF)

tools: $(BUF)

## web: the screens (web/dist), with the TypeScript client generated from proto/
web: $(BUF)
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build

## web-test: the screens' unit tests, then end to end in Debian's Chromium against kaigo dev
## (the debug binary `make unit` built; web/scripts/e2e.sh installs Chromium when missing)
web-test: $(BUF)
	@test -x target/debug/kaigo || $(CARGO) build -p kaigo
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run format:check && npm run build && npx vitest run
	bash web/scripts/e2e.sh

buf-lint: $(BUF)
	cd proto && ../$(BUF) lint && ../$(BUF) build

chart-check:
	bash scripts/chart-check/run.sh

services:
	bash scripts/services.sh

## unit: the Rust tests (unit, property and integration) against real PostgreSQL and Redis
unit: services
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --all-features --no-fail-fast; \
	else \
		$(CARGO) test --workspace --all-features --no-fail-fast; \
	fi

## bad-input: the bad-input suite at length: generated malformed bodies for every RPC of the
## compiled contracts, natively and as gRPC-Web, on kaigo serve (PostgreSQL, Redis) and on
## kaigo dev; `make test` runs it with 6 per method. A fresh seed each run, printed
## (KAIGO_BAD_INPUT_SEED=<seed> reproduces one; KAIGO_BAD_INPUT_CASES sets the count).
.PHONY: bad-input
bad-input: services
	KAIGO_BAD_INPUT_CASES=$${KAIGO_BAD_INPUT_CASES:-150} KAIGO_BAD_INPUT_SEED=$${KAIGO_BAD_INPUT_SEED:-$$(date +%s)} \
		$(CARGO) test -p kaigo --test cli bad_input:: -- --nocapture --test-threads 1

## dev-fresh-starts: kaigo dev started fresh 50 times in a row, each start followed at once by
## an ImportInsuredPersons of 200 rows, none answered UNAVAILABLE (issue 17: SQLite's
## `database is locked`); `make test` runs 5. KAIGO_DEV_FRESH_STARTS sets the count.
.PHONY: dev-fresh-starts
dev-fresh-starts:
	KAIGO_DEV_FRESH_STARTS=$${KAIGO_DEV_FRESH_STARTS:-50} \
		$(CARGO) test -p kaigo --test cli fresh_starts:: -- --nocapture --test-threads 1

## image: the production image localhost/kaigo:test (and :<version>) from scripts/image/Containerfile
## on a base made from Debian packages with mmdebstrap (no registry), the web screens included,
## its SBOM in target/image/. The release build uses its own target dir at lowest priority, so
## it never holds the lock on target/ (CI may pass IMAGE_TARGET_DIR=target or CARGO_TARGET_DIR);
## KAIGO_BINARY=path/to/kaigo packages a release binary built elsewhere instead.
IMAGE_TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target/image-build)
image:
	$(if $(KAIGO_BINARY),,nice -n 19 $(CARGO) build --release --locked -p kaigo --target-dir $(IMAGE_TARGET_DIR))
	IMAGE_TARGET_DIR=$(IMAGE_TARGET_DIR) bash scripts/image/build.sh

## image-check: without podman: the Dockerfile and the Containerfile agree, and the pod test's
## manifest adaptation (scripts/image/kube_adapt.py) changes only what one machine needs
image-check:
	python3 scripts/image/check-dockerfile.py
	$$(python3 -c 'import yaml' 2>/dev/null && echo python3 || echo .tools/chart-venv/bin/python) \
		-m unittest -q scripts/image/test_kube_adapt.py

## image-run-test: the image runs every component read-only on PostgreSQL and a private Redis
image-run-test:
	bash scripts/image/run-test.sh

## pod-test: k8s/overlays/dev played with podman kube play; calls through the gateway pod
## (POD_TEST_MANIFESTS=FILE plays rendered manifests instead, e.g. scripts/image/render-chart.sh's)
pod-test:
	bash scripts/image/pod-test.sh

## image-test: image, image-run-test, pod-test of the dev overlay and of the chart (minimal
## profile), then image-clean; skipped, saying so, without podman, buildah, runc or mmdebstrap.
## Its clean release build (about 10 min on 2 cores) would take make test past 20 min, so make
## test runs image-test-debug: the same image and checks on the debug binary make unit built.
image-test:
	bash scripts/image/test.sh

image-test-debug:
	bash scripts/image/test.sh debug

## image-clean: removes the images, containers, pods and vfs storage under target/image/
image-clean:
	bash scripts/image/clean.sh

## loadtest-national: 5,000,000 persons over twelve insurers imported through the gateway, L2
## warmed, CheckEligibility over all of them (Zipf and uniform) and CPU-s per million checks
## (loadtest/README.md#national-scale); about 30 min on 2 cores, outside make test.
## PERSONS=200000 for a quick try; holds /tmp/loadtest.lock around each measurement.
.PHONY: loadtest-national
loadtest-national:
	$(CARGO) build --release -p kaigo
	bash loadtest/national/run.sh

## loadtest-rate: gateway + eligibility CPU per call at fixed rates (500-8,000 calls/s, open
## loop), each paired with HAProxy + the echo server at the same rate, for the runtime's default
## threads and server.worker_threads = 1 (loadtest/README.md#cost-at-rate, the capacity plan's
## per-pod figures); about 10 min on 2 cores, outside make test. Needs haproxy.
.PHONY: loadtest-rate
loadtest-rate:
	$(CARGO) build --release -p kaigo
	bash loadtest/eligibility/rate.sh
