# Thin wrapper over go, npm and .ci/ scripts. `make help` lists the targets.

STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
COUNT       ?= 5
FUZZTIME    ?= 30s
FUZZEXECS   ?= 10000000
ARGS        ?=
# VERSION is stamped into the binary (fawkes --version, fawkes_build_info).
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
IMAGE       ?= fawkes:$(VERSION)

.PHONY: help build image run test test-go test-js bench bench-go bench-load lint cross fuzz fuzz-long npm console-assets conform

help:
	@echo "make build              ./fawkes, static, its version stamped in (VERSION=$(VERSION))"
	@echo "make image              the container image $(IMAGE) from deploy/Containerfile (podman)"
	@echo "make run [ARGS=...]     build, then start the server on 127.0.0.1:4000 (in-memory pub/sub)"
	@echo "make test               test-go, then test-js"
	@echo "make test-go            go test -race -shuffle=on ./..."
	@echo "make test-js            the real phoenix npm client against the binary"
	@echo "make conform [URL=...]  the conformance catalogue against URL (any server; ARGS=-groups all ...),"
	@echo "                        else against the fawkes binary, every group (as make test does)"
	@echo "make bench [COUNT=5]    go benchmarks, then a short run of each load scenario"
	@echo "make lint               gofmt, go vet, staticcheck"
	@echo "make cross              go build and go vet (tests too) for every GOOS/GOARCH we ship"
	@echo "make fuzz [FUZZTIME=30s] every fuzz target, FUZZTIME each"
	@echo "make fuzz-long [FUZZEXECS=10000000] every fuzz target, FUZZEXECS executions each (hours;\n                        FUZZIDLE=1 runs them in the idle CPU class, beside other work)"

# run listens on loopback: there the HTTP ingress is open without a token
# (on a public address it is not: see "Security defaults" in README.md).
# An --addr in ARGS wins, being last.
# The committed console assets are enough: run needs Go, not Node. The
# binary runs directly, not under `go run` (which exits 1 after an
# interrupted child): on Ctrl-C it drains and exits 0, and make prints no
# error.
run: build
	./fawkes --addr 127.0.0.1:4000 $(ARGS)

# build makes a static binary (CGO_ENABLED=0: it runs in an empty image).
build:
	CGO_ENABLED=0 go build -trimpath -ldflags '-X main.version=$(VERSION)' -o fawkes ./cmd/fawkes

# image builds deploy/Containerfile around the binary of build: no base
# image is pulled (FROM scratch).
image: build
	cp fawkes deploy/fawkes
	podman build -t $(IMAGE) -f deploy/Containerfile deploy

test: console-assets test-go test-js

test-go:
	go test -race -shuffle=on -count=1 -timeout 20m ./...

test-js: npm
	cd js-client-tests && npm test

# conform runs cmd/fawkes-conform (docs/conformance.md). With URL, against
# any Phoenix Channels server; without, the Go test that runs the whole
# catalogue against the fawkes binary, every group with its settings, plus
# the broken servers that show each case can fail (test-go runs them too).
conform:
ifdef URL
	go run ./cmd/fawkes-conform -url $(URL) $(ARGS)
else
	go test -count=1 -v -run 'TestFawkesPassesTheCatalogue|TestMiniServerPasses|TestBrokenServersFailTheRightCases' ./cmd/fawkes-conform
endif

# npm installs the pinned npm packages (the phoenix client among them).
npm:
	cd js-client-tests && npm ci --no-audit --no-fund

# console-assets copies phoenix.js from the npm package into the console page
# that cmd/fawkes embeds.
console-assets: npm
	cp js-client-tests/node_modules/phoenix/priv/static/phoenix.mjs cmd/fawkes/console/phoenix.mjs

bench: bench-go bench-load

bench-go:
	go test -run '^$$' -bench . -benchmem -count=$(COUNT) ./...

# bench-load runs a short version of each cmd/fawkes-bench scenario.
bench-load:
	bash .ci/bench-load.sh

lint:
	@files="$$(gofmt -l .)"; \
	if [ -n "$$files" ]; then echo "gofmt -l reports unformatted files:"; echo "$$files"; exit 1; fi
	go vet ./...
	go run $(STATICCHECK) ./...

# cross builds and vets (which compiles the tests) for each system we
# support, on amd64 and arm64: build tags keep the Linux-only code apart.
CROSS_OS   ?= linux darwin freebsd windows
CROSS_ARCH ?= amd64 arm64

cross:
	@set -e; for os in $(CROSS_OS); do for arch in $(CROSS_ARCH); do \
		echo "GOOS=$$os GOARCH=$$arch"; \
		GOOS=$$os GOARCH=$$arch go build ./...; \
		GOOS=$$os GOARCH=$$arch go vet ./...; \
	done; done

fuzz:
	FUZZTIME=$(FUZZTIME) bash .ci/fuzz.sh

# fuzz-long is the issue-16 fuzz record: 10^7 executions of every target
# (go test -fuzztime Nx). Counts and findings: docs/BENCHMARKS.md.
fuzz-long:
	FUZZTIME=$(FUZZEXECS)x bash .ci/fuzz.sh
