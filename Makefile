# Build, run and test an EMQX-compatible node.
BASE_VERSION := 0.1.0
GIT_REV      := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
VERSION      ?= $(BASE_VERSION)-$(GIT_REV)
LDFLAGS      := -s -w -X emqxgo/internal/version.Version=$(VERSION)
GO           ?= go
REL          ?= _rel/emqx

.PHONY: all build run test release clean vet fmt docker bench

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/emqx ./cmd/emqx
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/emqx_ctl ./cmd/emqx_ctl

# Run a node in the foreground on its defaults (MQTT on 1883). Ctrl-C stops it.
run: build
	./bin/emqx foreground

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

# Every test, with the race detector. Process-level tests build their own binaries.
test: vet
	@rm -f "$${TMPDIR:-/tmp}/emqx-go-fault-summary.md"
	$(GO) test -race -count=1 -timeout 30m ./...
	$(GO) test -run '^$$' -bench . -benchtime 1x ./internal/... # the benchmarks still run (one pass each)
	@echo "Fault suite (test/docker):"; cat "$${TMPDIR:-/tmp}/emqx-go-fault-summary.md" 2>/dev/null || true

# A self-contained folder: bin/, etc/, scripts/. Copy it anywhere and run bin/emqx start.
release: build
	rm -rf $(REL)
	mkdir -p $(REL)/bin $(REL)/etc $(REL)/scripts
	cp bin/emqx bin/emqx_ctl $(REL)/bin/
	cp etc/emqx.conf etc/cluster.conf $(REL)/etc/
	cp scripts/one_more_emqx.sh $(REL)/scripts/
	@echo "release in $(REL) ($(VERSION))"

# Benchmark: Go micro-benchmarks of the hot paths, then the broker benchmark
# (single node vs mosquitto, cluster paths vs same-node) as ratios of medians
# over interleaved rounds. Bounded: about 5-10 minutes on a 2-core machine.
bench: build
	@command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || { apt-get update -qq && apt-get install -y -qq mosquitto; }
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2000x ./internal/fabric ./internal/cluster
	$(GO) run ./cmd/emqxbench -rounds 5

# The node image, FROM scratch (nothing is pulled): make docker IMAGE=emqx-go:latest
IMAGE ?= emqx-go:latest
docker: build
	docker build -t $(IMAGE) .

clean:
	rm -rf bin _rel
