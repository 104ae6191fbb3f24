# gokafka — see README.md.
GO      ?= go
BIN     := $(CURDIR)/.bin
BROKERS ?= 3
KAFKA_VERSION ?= 4.3.1
# Tests share one throwaway cluster that kafka-instance starts and stops.
INSTANCE = $(BIN)/kafka-instance -brokers $(BROKERS) -kafka-version $(KAFKA_VERSION)

.PHONY: all build test test-short test-nocgo test-compat demo cluster lint bench bench-quick soak clean

# Targets run in the order written: the prerequisite checks below first.
.NOTPARALLEL:

all: lint build test

# What the targets that run a cluster need, checked (and installed where
# apt-get may) by .ci/prereqs before they start: java and mvn for the
# cluster, kcat for the interop tests, gcc for the librdkafka engine.
NEEDS_CLUSTER = go java mvn
NEEDS_TESTS   = $(NEEDS_CLUSTER) kcat
.PHONY: prereqs-cluster prereqs-tests prereqs-tests-cgo
prereqs-cluster:
	@.ci/prereqs $(NEEDS_CLUSTER)
prereqs-tests:
	@.ci/prereqs $(NEEDS_TESTS)
prereqs-tests-cgo:
	@.ci/prereqs $(NEEDS_TESTS) gcc

$(BIN)/kafka-instance: FORCE
	@mkdir -p $(BIN)
	$(GO) build -o $@ ./cmd/kafka-instance
FORCE:

build:
	$(GO) build ./...
	CGO_ENABLED=0 $(GO) build ./...
	$(GO) vet -tags nordkafka ./...
	cd cmd/gokafka && $(GO) build -o $(BIN)/gokafka . && $(GO) vet ./...
	for p in $(PLUGINS); do (cd $$p && $(GO) vet ./...) || exit 1; done

## test: the whole suite, both engines, with -race, against a real cluster it starts and stops;
## then, on the same cluster, the modules of their own: the gokafka command (cmd/gokafka) and the
## Prometheus and OpenTelemetry hooks (plugin/kprom, plugin/kotel).
PLUGINS = plugin/kprom plugin/kotel
test: prereqs-tests-cgo build $(BIN)/kafka-instance
	$(INSTANCE) -exec -- sh -c '$(GO) test -race -count=1 -timeout 40m ./... && cd cmd/gokafka && $(GO) test -race -count=1 -timeout 10m ./... $(foreach p,$(PLUGINS),&& cd $(CURDIR)/$(p) && $(GO) test -race -count=1 -timeout 5m ./...)'
	# Without the engine (no cgo, or -tags nordkafka): UseRdkafka's typed error.
	CGO_ENABLED=0 $(GO) test -count=1 ./rdkafka/
	$(GO) test -count=1 -tags nordkafka ./rdkafka/

## test-nocgo: the suite without cgo (pure engine only; rdkafka tests assert the typed error).
test-nocgo: prereqs-tests $(BIN)/kafka-instance
	$(INSTANCE) -exec -- env CGO_ENABLED=0 $(GO) test -count=1 -timeout 20m ./...

## test-compat: the suite against Kafka 3.9 (the consumer group protocol's tests assert ErrUnsupported there).
test-compat: prereqs-tests-cgo $(BIN)/kafka-instance
	$(BIN)/kafka-instance -brokers $(BROKERS) -kafka-version 3.9.1 -exec -- $(GO) test -race -count=1 -timeout 25m . ./offsets/... ./pure/... ./balance/consumer/

## demo: the main job on a throwaway local cluster.
demo: prereqs-cluster $(BIN)/kafka-instance
	$(INSTANCE) -exec -- $(GO) run ./cmd/demo

## cluster: a throwaway cluster in the foreground (Ctrl-C stops it).
cluster: prereqs-cluster $(BIN)/kafka-instance
	$(INSTANCE) -export-hosts $(BIN)/cluster.env

lint:
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) vet ./...
	cd cmd/gokafka && $(GO) vet ./...
	for p in $(PLUGINS); do (cd $$p && $(GO) vet ./...) || exit 1; done

## bench: the full benchmark matrix against peer clients on a fresh local cluster (~45 min); results in bench/results/.
bench:
	cd bench && $(GO) run . $(BENCH_FLAGS)

## bench-quick: the quick subset (100 B, 12 partitions, acks=all, no compression; under 5 min).
bench-quick:
	cd bench && $(GO) run . -quick $(BENCH_FLAGS)

## soak: the fault scenarios (kill -9 of a leader under async and sync producers, consumers across a
## leader change and a whole-cluster restart, network faults through a TCP proxy, the exactly-once
## pipeline with a member and the transaction coordinator killed) SOAK_N times (default 20) on a
## throwaway cluster, both engines; prints the totals sent, acknowledged, read, lost, duplicated.
## SOAK_FLAGS=-scenarios=pipeline runs one scenario.
SOAK_N ?= 20
soak: prereqs-cluster
	$(GO) run ./cmd/soak -n $(SOAK_N) $(SOAK_FLAGS)

clean:
	rm -rf $(BIN)
