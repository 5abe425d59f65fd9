# fwgit: GitOps for host firewalls. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/fwgit/fwgit/internal/version.Version=$(VERSION)
FUZZTIME ?= 10s
# Kernel tests carry the netns build tag and skip themselves without CAP_NET_ADMIN.
TESTTAGS ?= netns

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z0-9_-]+:.*## /{printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/fwgit and bin/fwgit-agent
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/fwgit ./cmd/fwgit
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/fwgit-agent ./cmd/fwgit-agent

.PHONY: test
test: ## run the whole test suite with the race detector (kernel tests run when root)
	$(GO) test -race -tags '$(TESTTAGS)' -timeout 20m ./...

.PHONY: test-short
test-short: ## unit tests only: no kernel, no browser
	$(GO) test -race -short ./...

.PHONY: test-netns
test-netns: ## only the real-kernel tests (needs root or CAP_NET_ADMIN)
	hack/test-netns.sh

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME each
	FUZZTIME=$(FUZZTIME) hack/fuzz.sh

.PHONY: golden
golden: ## rewrite golden files, then show what changed
	$(GO) test ./... -run 'Golden' -update >/dev/null || true
	git diff --stat

.PHONY: lint
lint: ## gofmt check and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags '$(TESTTAGS)' ./...

.PHONY: examples
examples: build ## validate, compile and test examples/repo
	$(BIN)/fwgit validate examples/repo
	$(BIN)/fwgit compile examples/repo >/dev/null
	$(BIN)/fwgit test examples/repo

.PHONY: verify
verify: lint ## tidy, fmt, golden and a clean-tree check
	$(GO) mod tidy
	$(GO) test ./... -run 'Golden' -update >/dev/null
	@git diff --exit-code || (echo "tree not clean after tidy/golden: commit the changes"; exit 1)

.PHONY: cover
cover: ## test coverage report in cover.out
	$(GO) test -coverprofile=cover.out ./...
	$(GO) tool cover -func=cover.out | tail -1

.PHONY: demo
demo: ## run the whole system on examples/repo in network namespaces (root)
	@hack/demo.sh

.PHONY: demo-down
demo-down: ## remove everything make demo created
	@hack/demo.sh down

.PHONY: test-e2e
test-e2e: ## end-to-end scenarios: real agents, controller and packets in namespaces (root)
	$(GO) test -race -tags '$(TESTTAGS)' -count=1 -timeout 15m -v ./e2e/...

.PHONY: bench
bench: ## run the benchmarks with goals, print one table and write BENCHMARKS.md
	$(GO) run ./hack/bench -out BENCHMARKS.md

# nfpm is a tool, not a library: installed at a pinned version into bin/,
# never added to go.mod.
NFPM_VERSION := v2.45.2
PKG_ARCH ?= $(shell $(GO) env GOARCH)
PKG_VERSION ?= $(or $(shell git describe --tags --match 'v[0-9]*' 2>/dev/null | sed 's/^v//'),0.0.0-dev.$(shell git rev-parse --short HEAD 2>/dev/null || echo 0))

.PHONY: package
package: ## build the fwgit-agent .deb and .rpm into dist/ with nfpm
	@mkdir -p $(BIN) dist
	CGO_ENABLED=0 GOOS=linux GOARCH=$(PKG_ARCH) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/fwgit-agent ./cmd/fwgit-agent
	@test -x $(BIN)/nfpm-$(NFPM_VERSION) || (GOBIN=$(CURDIR)/$(BIN)/.nfpm $(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION) && mv $(BIN)/.nfpm/nfpm $(BIN)/nfpm-$(NFPM_VERSION))
	for p in deb rpm; do GOARCH=$(PKG_ARCH) SEMVER=$(PKG_VERSION) $(BIN)/nfpm-$(NFPM_VERSION) package --config packaging/nfpm.yaml --packager $$p --target dist/ || exit 1; done
	@ls -l dist/

.PHONY: bench-agent
bench-agent: ## agent benchmarks: unchanged re-apply, apply through the API, idle RSS
	$(GO) test -tags '$(TESTTAGS)' -run '^$$' -bench . -benchmem ./agent/...

.PHONY: clean
clean: ## remove build output
	rm -rf $(BIN) cover.out dist
