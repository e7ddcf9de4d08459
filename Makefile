# repbook: `make demo` runs it, `make test` tests it. One cargo profile (dev, with optimised dependencies)
# serves the demo, the tests and CI, so nothing is compiled twice.

CARGO ?= cargo
DEMO_DIR ?= demo-data

.PHONY: demo test test-deps plugins bench build fmt

build:
	$(CARGO) build --workspace

# Builds every connector component under plugins/ for wasm32-wasip2.
plugins:
	rustup target add wasm32-wasip2
	$(CARGO) build --manifest-path plugins/Cargo.toml --target wasm32-wasip2 --release --workspace --lib --examples

# Chromium + chromedriver, axe-core and the Python checkers the end-to-end suites use (see the script).
test-deps:
	scripts/test-deps

test: plugins test-deps
	$(CARGO) test --manifest-path plugins/Cargo.toml -p halo-bp
	$(CARGO) test --workspace

bench: plugins
	$(CARGO) bench --workspace

# The seed's whole flow locally: Halo + Bp simulator, the halo-bp connector, a demo clinic, the server.
demo: build plugins
	./target/debug/repbook --data-dir $(DEMO_DIR) demo

fmt:
	$(CARGO) fmt --all
