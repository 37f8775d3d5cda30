# The web console (services/console): build with Vite, component tests with Vitest, end-to-end in
# headless Debian Chromium against the embedded server. Included by the Makefile (-include mk/*.mk).
CONSOLE       := services/console
CONSOLE_NPM   := $(CONSOLE)/node_modules/.npm-ci-done
CHROMIUM      ?= /usr/bin/chromium

.PHONY: console console-build console-unit console-e2e console-test console-chromium console-clean

# npm ci from the committed lock file, again whenever the lock or package.json changes.
$(CONSOLE_NPM): $(CONSOLE)/package-lock.json $(CONSOLE)/package.json
	cd $(CONSOLE) && npm ci --no-audit --no-fund
	touch $@

# Type-check and build services/console/dist (the server serves it at /).
console-build: $(CONSOLE_NPM)
	cd $(CONSOLE) && npm run --silent build

console: console-build

# Component tests (jsdom).
console-unit: $(CONSOLE_NPM)
	cd $(CONSOLE) && npx vitest run

# Debian's chromium (playwright-core drives it; no browser download exists here).
console-chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "installing chromium (Debian package)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

# The built console in headless Chromium against `goldenshot serve` on 127.0.0.1 (free port,
# temporary data dir, stopped by PID even on failure); screenshots in test-output/console/.
console-e2e: install console-build console-chromium
	GOLDENSHOT_DATASETS=$(DATA) GOLDENSHOT_PYTHON=$(PY) CHROMIUM=$(CHROMIUM) node $(CONSOLE)/e2e/run-e2e.mjs

console-test: console-unit console-e2e

console-clean:
	rm -rf $(CONSOLE)/node_modules $(CONSOLE)/dist test-output/console
