# Mirrors CI and the README; the scripts are the source of truth.
.PHONY: run demo test lint bench build

build:
	go build -o bin/relay24 ./cmd/relay24

demo run:
	scripts/demo

test:
	scripts/test

lint:
	go vet ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"

bench:
	scripts/bench
