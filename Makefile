# dirbridge — build, test, demo and benchmark entry points.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: all build deps test deploy-test check vet lint fmt-check tidy-check windows demo bench screenshots clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/dirbridge ./cmd/dirbridge

# deps installs the real servers the tests use (apt-get, npm); a no-op once present.
deps:
	scripts/install-deps.sh

# test runs every test against real servers, plus the static checks.
test: deps check deploy-test
	$(GO) test -count=1 -timeout 40m ./...

# deploy-test renders the Helm chart and decodes the Kubernetes manifests
# into the API types. deploy/test is a module of its own: Helm and
# k8s.io/api bring some sixty modules dirbridge itself never links, so ./...
# above does not reach it.
deploy-test:
	cd deploy/test && $(GO) test -count=1 ./...

check: vet lint fmt-check tidy-check windows

vet:
	$(GO) vet ./...
	cd deploy/test && $(GO) vet ./...

# lint runs golangci-lint (.golangci.yml) at the version pinned in the tool
# block of tools/go.mod, a module of its own so the linter's ~200 modules
# stay out of dirbridge's go.mod (and of every module that requires it,
# as deploy/test does). The first run builds it (a minute or two), later
# runs reuse the build cache.
lint:
	$(GO) tool -modfile=tools/go.mod golangci-lint run ./...
	cd deploy/test && $(GO) tool -modfile=../../tools/go.mod golangci-lint run ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# tidy-check fails when go.mod/go.sum do not match the imports.
tidy-check:
	$(GO) mod tidy -diff
	cd deploy/test && $(GO) mod tidy -diff
	cd tools && $(GO) mod tidy -diff

# windows proves the Windows service build still compiles.
windows:
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./cmd/dirbridge

# demo runs dirbridge's main job against a real OpenLDAP on loopback.
demo: build
	scripts/demo.sh

bench:
	scripts/bench.sh

# screenshots regenerates docs/console/*.png: the console's browser test
# (headless chromium against the running daemon) saves each main page.
screenshots: deps
	DIRBRIDGE_SCREENSHOTS=$(CURDIR)/docs/console $(GO) test -count=1 -run TestConsoleInBrowser ./internal/e2e/console/

clean:
	rm -rf bin
