# Build, run and test an EMQX-compatible node.
BASE_VERSION := 0.1.0
GIT_REV      := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
VERSION      ?= $(BASE_VERSION)-$(GIT_REV)
LDFLAGS      := -s -w -X emqxgo/internal/version.Version=$(VERSION)
GO           ?= go
REL          ?= _rel/emqx
STATICCHECK  ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build run test test-unit lint help release clean vet fmt docker bench soak screenshot scale

all: build ## bin/emqx and bin/emqx_ctl (the default)

build: ## bin/emqx and bin/emqx_ctl, static, version stamped from git
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/emqx ./cmd/emqx
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/emqx_ctl ./cmd/emqx_ctl

# Run a node in the foreground on its defaults (MQTT on 1883). Ctrl-C stops it.
run: build ## build and run a node in the foreground on its defaults
	./bin/emqx foreground

vet: ## go vet and the gofmt check
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

# Every test, with the race detector. Process-level tests build their own binaries.
test: lint build ## lint, every test with -race (Docker fault suite and multicast included; needs Docker and root), a 60 s soak
	@rm -f "$${TMPDIR:-/tmp}/emqx-go-fault-summary.md"
	$(GO) test -race -count=1 -timeout 30m ./...
	$(GO) test -run '^$$' -bench . -benchtime 1x ./internal/... # the benchmarks still run (one pass each)
	$(GO) run ./cmd/emqxsoak -duration 60s -kill-every 30s # the soak, short: exits 1 on any loss
	@echo "Fault suite (test/docker):"; cat "$${TMPDIR:-/tmp}/emqx-go-fault-summary.md" 2>/dev/null || true

# The tests that need neither Docker nor root, with -race: all but the fault
# suite (test/docker) and the multicast tests, which enable multicast on lo
# (internal/discovery/mcast and TestMcastCluster). A few minutes.
UNIT_EXCLUDED := emqxgo/test/docker emqxgo/internal/discovery/mcast
test-unit: ## the tests that need neither Docker nor root, with -race (a few minutes)
	$(GO) test -race -count=1 -short -timeout 20m -skip '^TestMcastCluster$$' \
		$$($(GO) list ./... | grep -v -x $(UNIT_EXCLUDED:%=-e %))

# Static checks: vet, gofmt and staticcheck (fetched through the module proxy).
lint: vet ## go vet, the gofmt check and staticcheck
	$(STATICCHECK) ./...

help: ## this list
	@awk -F':.*## ' '/^[a-z-]+:.*## /{printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# A self-contained folder: bin/, etc/, scripts/. Copy it anywhere and run bin/emqx start.
release: build ## a self-contained folder _rel/emqx (REL=...): bin/, etc/, scripts/
	rm -rf $(REL)
	mkdir -p $(REL)/bin $(REL)/etc/plugins $(REL)/scripts
	cp bin/emqx bin/emqx_ctl $(REL)/bin/
	cp etc/emqx.conf etc/cluster.conf etc/acl.conf $(REL)/etc/
	cp etc/plugins/*.conf $(REL)/etc/plugins/
	cp scripts/one_more_emqx.sh $(REL)/scripts/
	@echo "release in $(REL) ($(VERSION))"

# Benchmark: Go micro-benchmarks of the hot paths, then the broker benchmark
# (single node vs mosquitto, cluster paths vs same-node) as ratios of medians
# over interleaved rounds. Bounded: about 5-10 minutes on a 2-core machine.
screenshot: ## docs/dashboard.png, taken by the dashboard's browser test (needs chromium)
	DASHBOARD_SCREENSHOT=$(CURDIR)/docs/dashboard.png $(GO) test -count=1 -run '^TestDashboard$$' ./test/dashboard/

bench: build ## Go micro-benchmarks and the broker benchmark against mosquitto (5-10 minutes)
	@command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || { apt-get update -qq && apt-get install -y -qq mosquitto; }
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2000x ./internal/fabric ./internal/peerlink
	$(GO) run ./cmd/emqxbench -rounds 5

# Soak: 3 node processes, MQTT clients at QoS 0/1/2 spread over them,
# persistent subscribers hopping between nodes, a shared group, a node
# killed -9 and restarted every minute; 10 minutes unless SOAK=2m (say).
# Prints what was lost, duplicated, reordered; exits 1 on any loss.
soak: build ## 3 nodes under load with node kills for SOAK (10m); exits 1 on loss
	$(GO) run ./cmd/emqxsoak

# Scale: one node holding as many idle connections as the open-files limit
# allows, the 100k asked spread over as many clustered nodes as that limit
# needs, then 10 node processes on loopback with 100k routes and an 11th
# joining; prints the table of docs/scale.md. A few minutes; SCALE=-quick
# for smaller counts.
SCALE ?=
scale: build ## one node's connections, 100k over a cluster, a 10-node cluster's routes: docs/scale.md's table (SCALE=-quick)
	$(GO) run ./cmd/emqxscale $(SCALE)

# The node image, FROM scratch (nothing is pulled): make docker IMAGE=emqx-go:latest
IMAGE ?= emqx-go:latest
docker: build ## the node image FROM scratch (IMAGE=emqx-go:latest)
	docker build -t $(IMAGE) .

clean: ## remove bin/ and _rel/
	rm -rf bin _rel
