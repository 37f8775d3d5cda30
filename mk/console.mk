# The web console (services/console): build with Vite, component tests with Vitest, end-to-end in
# headless Debian Chromium against the embedded server. Included by the Makefile (-include mk/*.mk).
CONSOLE       := services/console
CONSOLE_NPM   := $(CONSOLE)/node_modules/.npm-ci-done
CHROMIUM      ?= /usr/bin/chromium

.PHONY: console console-build console-budget console-types console-types-check console-unit console-e2e console-test console-chromium console-clean

# npm ci from the committed lock file, again whenever the lock or package.json changes (no browser
# download: the end-to-end tests use Debian's chromium).
$(CONSOLE_NPM): $(CONSOLE)/package-lock.json $(CONSOLE)/package.json
	cd $(CONSOLE) && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	touch $@

# The API client's types: the server's OpenAPI, taken from the app in Python (no server started), through
# openapi-typescript. $(call console-types-to,FILE) writes them to FILE.
CONSOLE_TYPES := $(CONSOLE)/src/api/schema.d.ts
define console-types-to
(tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	PYTHONPATH=. $(PY) $(CONSOLE)/scripts/openapi.py > "$$tmp/openapi.json" && \
	$(CONSOLE)/node_modules/.bin/openapi-typescript "$$tmp/openapi.json" -o $(1) > /dev/null)
endef

# Regenerate src/api/schema.d.ts after an API change (commit it with the change).
console-types: install $(CONSOLE_NPM)
	$(call console-types-to,$(CONSOLE_TYPES))

# Fails when the committed types differ from what the server's OpenAPI gives now.
console-types-check: install $(CONSOLE_NPM)
	@out=$$(mktemp --suffix=.d.ts) && trap 'rm -f "$$out"' EXIT && \
	$(call console-types-to,$$out) && \
	if diff -u $(CONSOLE_TYPES) "$$out"; then echo "console API types match the server's OpenAPI"; \
	else echo "$(CONSOLE_TYPES) differs from the server's OpenAPI: run make console-types and commit it"; exit 1; fi

# Type-check and build services/console/dist (the server serves it at /).
console-build: $(CONSOLE_NPM)
	cd $(CONSOLE) && npm run --silent build

console: console-build

# The built JavaScript's gzip size against its budget (scripts/bundle-budget.mjs: 205 kB).
console-budget: console-build
	cd $(CONSOLE) && node scripts/bundle-budget.mjs

# Component tests (jsdom).
console-unit: $(CONSOLE_NPM)
	cd $(CONSOLE) && npx vitest run

# Debian's chromium (@playwright/test drives it; no browser download exists here).
console-chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "installing chromium (Debian package)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

# The built console in headless Chromium (@playwright/test, e2e/*.spec.ts) against `goldenshot serve` on
# 127.0.0.1 (free ports, temporary data dirs, stopped by PID); an axe scan of every page; screenshots,
# traces of failures and the HTML report in test-output/console/.
console-e2e: install console-build console-chromium
	cd $(CONSOLE) && GOLDENSHOT_DATASETS=$(abspath $(DATA)) GOLDENSHOT_PYTHON=$(abspath $(PY)) CHROMIUM=$(CHROMIUM) \
		PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npx playwright test

console-test: console-types-check console-unit console-budget console-e2e

console-clean:
	rm -rf $(CONSOLE)/node_modules $(CONSOLE)/dist test-output/console
