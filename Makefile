# The commands the README names. `make test` is what CI runs (.ci/run).

CARGO ?= cargo
BUF := tools/buf/node_modules/.bin/buf

.PHONY: dev test lint fmt-check clippy buf-lint docs-check chart-check unit services tools bench web web-test

## dev: build the web screens, then run the gateway and every service in one process on
## 127.0.0.1:50051 (screens at http://127.0.0.1:50051/)
dev: web
	$(CARGO) run --release -p kaigo -- dev

## test: everything CI checks: format, lints, API lint, docs citations, chart, all tests on real
## PostgreSQL and Redis, and the web screens in a real browser against kaigo dev
test: lint chart-check unit web-test

lint: docs-check fmt-check clippy buf-lint

## docs-check: no tracked file cites a document outside the repository, and every citation of a
## docs/ page and anchor resolves (about a second)
docs-check:
	python3 scripts/docs-check/check.py

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
