# SPDX-License-Identifier: ISC
# The web console (frontend/): build it into frontend/dist, check it, test it in a browser.
#   make frontend        npm ci (when node_modules is missing or stale) + npm run build
#   make check-frontend  ESLint + tsc --noEmit + Vitest; ends with "N passed, N failed"
#   make check-browser   builds binaries, admin and console, then runs t/browser in
#                        Debian's chromium against the real processes; same last line
.PHONY: frontend frontend-deps check-frontend check-browser

FRONTEND_SRC := $(shell find frontend/src frontend/public -type f 2>/dev/null) \
	frontend/index.html frontend/vite.config.ts frontend/tsconfig.json frontend/package.json

# npm ci again when the lockfile is newer than what was installed from it.
frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	@touch $@

frontend-deps: frontend/node_modules/.package-lock.json

frontend/dist/index.html: frontend/node_modules/.package-lock.json $(FRONTEND_SRC)
	cd frontend && npm run build

frontend: frontend/dist/index.html

check-frontend: frontend-deps
	@node frontend/scripts/check.mjs

check-browser: frontend
	$(MAKE) --no-print-directory c
	@if $(MAKE) -n admin >/dev/null 2>&1; then $(MAKE) --no-print-directory admin; fi
	@node t/browser/run.mjs
