# fleetfeed — see README.md.
GO       ?= go
BIN      := bin/fleetfeed
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
ADDR     ?= 127.0.0.1:8080
DB       ?= fleetfeed-demo.db

.PHONY: all build run test lint fmt bench fuzz clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/fleetfeed

## run: build, then serve the demo fleet on http://127.0.0.1:8080
run: build
	./$(BIN) serve --demo --http $(ADDR) --db $(DB)

## test: every test — unit, integration (real SQLite, real brokers), browser — with the race detector
test: lint
	$(GO) test -race -count=1 -timeout 30m ./...

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

## bench: the figures the issues ask for, each beside its raw ceiling
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./... | tee bench.out | grep -E '^(Benchmark|ok|FAIL|---|\s+[a-z])' || true

## fuzz: a short run of every fuzz target
fuzz:
	@for t in $$($(GO) test -list 'Fuzz.*' ./translators | grep ^Fuzz); do \
		echo "== $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime 20s ./translators || exit 1; \
	done

clean:
	rm -rf bin bench.out
