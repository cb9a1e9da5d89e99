# Developer and CI entry points. `make test` is the test command the README
# documents and .ci/run executes; keep them the same.

GO ?= go

.PHONY: test vet build demo fmt

## test: every test, race detector on, PostgreSQL too when IDP_TEST_DATABASE_URL is set
test:
	$(GO) test -race -count=1 -timeout 20m ./...

## vet: go vet on every package
vet:
	$(GO) vet ./...

## build: the idp binary in bin/
build:
	$(GO) build -o bin/idp ./cmd/idp

## demo: the local demo on http://127.0.0.1:8080 (SQLite in ./data)
demo:
	$(GO) run ./cmd/idp demo

## fmt: gofmt every Go file in place
fmt:
	gofmt -w $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*')

## bench-load: the load test of docs/LOADTEST.md (idp pinned to CPU 0, idp-bench to CPU 1; PG_DSN=postgres://... for PostgreSQL)
.PHONY: bench-load
bench-load:
	GO=$(GO) sh cmd/idp-bench/loadtest.sh
