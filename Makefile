# The commands the README names. `make test` is what CI runs (.ci/run).

CARGO ?= cargo
BUF := tools/buf/node_modules/.bin/buf

.PHONY: dev test lint fmt-check clippy buf-lint chart-check unit services tools bench

## dev: run the gateway and every service in one process on 127.0.0.1:50051
dev:
	$(CARGO) run --release -p kaigo -- dev

## test: everything CI checks: format, lints, API lint, chart, and all tests on real PostgreSQL and Redis
test: lint chart-check unit

lint: fmt-check clippy buf-lint

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

$(BUF): tools/buf/package.json tools/buf/package-lock.json
	cd tools/buf && npm ci --no-audit --no-fund --loglevel=error
	touch $(BUF)

tools: $(BUF)

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
