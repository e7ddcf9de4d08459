# repbook: `make demo` runs it, `make test` tests it. One cargo profile (dev, with optimised dependencies)
# serves the demo, the tests and CI, so nothing is compiled twice.

CARGO ?= cargo
DEMO_DIR ?= demo-data
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: demo test test-deps plugins bench build fmt install install-service fuzz

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
	$(CARGO) test --manifest-path plugins/Cargo.toml -p halo-bp -p caldav
	$(CARGO) test --workspace

bench: plugins
	$(CARGO) bench --workspace

# Fuzzing on the nightly toolchain (cargo-fuzz, installed here if missing), FUZZ_SECONDS per target; never
# part of `make test`. Targets: request bodies, local-time parsing, store records and backups, Halo answers
# as halo-bp decodes them (natively), and the simulator's T-SQL parser, from the seeds in fuzz/seeds/.
# Crashes land in fuzz/artifacts/; each one found becomes a unit test where the code is.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = request_body local_time store_record halo_answer sim_sql
fuzz:
	rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	for target in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$target; \
		$(CARGO) +nightly fuzz run --sanitizer none $$target fuzz/corpus/$$target fuzz/seeds/$$target \
			-- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

# The seed's whole flow locally: Halo + Bp simulator, the halo-bp connector, a demo clinic, the server.
demo: build plugins
	./target/debug/repbook --data-dir $(DEMO_DIR) demo

fmt:
	$(CARGO) fmt --all

# A release build of the binary and the connector components, for a clinic server or a VM:
#   make install [PREFIX=/usr/local] [DESTDIR=]   then   make install-service (systemd)
install: plugins
	$(CARGO) build --release -p repbook --no-default-features
	install -D -m 0755 target/release/repbook $(DESTDIR)$(PREFIX)/bin/repbook
	install -d $(DESTDIR)$(PREFIX)/lib/repbook/plugins
	install -m 0644 plugins/target/wasm32-wasip2/release/*.wasm $(DESTDIR)$(PREFIX)/lib/repbook/plugins/
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/repbook/README.md

install-service:
	install -d $(DESTDIR)/etc/systemd/system
	sed 's#/usr/local#$(PREFIX)#g' deploy/repbook.service > $(DESTDIR)/etc/systemd/system/repbook.service
	chmod 0644 $(DESTDIR)/etc/systemd/system/repbook.service
