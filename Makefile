# Thin wrapper over go, npm and .ci/ scripts. `make help` lists the targets.

STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
COUNT       ?= 5
FUZZTIME    ?= 30s
ARGS        ?=

.PHONY: help run test test-go test-js bench lint fuzz

help:
	@echo "make run [ARGS=...]     start the server on :4000 (in-memory pub/sub)"
	@echo "make test               test-go, then test-js"
	@echo "make test-go            go test -race -shuffle=on ./..."
	@echo "make test-js            the real phoenix npm client against the binary"
	@echo "make bench [COUNT=5]    all benchmarks"
	@echo "make lint               gofmt, go vet, staticcheck"
	@echo "make fuzz [FUZZTIME=30s] every fuzz target, FUZZTIME each"

run:
	go run ./cmd/fawkes $(ARGS)

test: test-go test-js

test-go:
	go test -race -shuffle=on -count=1 -timeout 20m ./...

test-js:
	cd js-client-tests && npm ci --no-audit --no-fund && npm test

bench:
	go test -run '^$$' -bench . -benchmem -count=$(COUNT) ./...

lint:
	@files="$$(gofmt -l .)"; \
	if [ -n "$$files" ]; then echo "gofmt -l reports unformatted files:"; echo "$$files"; exit 1; fi
	go vet ./...
	go run $(STATICCHECK) ./...

fuzz:
	FUZZTIME=$(FUZZTIME) bash .ci/fuzz.sh
