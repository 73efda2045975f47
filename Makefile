# vkcnn: `make test` is the project's test command (CI runs it through .ci/run).
GO       ?= go
FUZZTIME ?= 5s

.PHONY: test fmt-check vet race view nocgo fuzz bench generate

## test: gofmt check, go vet, the race-detector test run, the viewer under Xvfb,
## a CPU-only build, short fuzzing
test: fmt-check vet race view nocgo fuzz

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

race:
	$(GO) test -race -timeout 60m ./...

## view: the live training window (build tag view, GLFW + X11) under Xvfb
view:
	$(GO) vet -tags view ./viewer/ ./cmd/vkcnn/
	xvfb-run -a -s "-screen 0 1280x1024x24 -noreset" $(GO) test -race -tags view ./viewer/

## nocgo: the CPU backend must build without cgo
nocgo:
	CGO_ENABLED=0 $(GO) build ./...

## fuzz: each fuzz target for $(FUZZTIME)
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzConv2D$$' -fuzztime $(FUZZTIME) ./cpu
	$(GO) test -run '^$$' -fuzz '^FuzzPool2D$$' -fuzztime $(FUZZTIME) ./cpu
	$(GO) test -run '^$$' -fuzz '^FuzzLoadSafetensors$$' -fuzztime $(FUZZTIME) ./nn
	$(GO) test -run '^$$' -fuzz '^FuzzReadNpy$$' -fuzztime $(FUZZTIME) ./nn
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./nn
	$(GO) test -run '^$$' -fuzz '^FuzzReadImages$$' -fuzztime $(FUZZTIME) ./data
	$(GO) test -run '^$$' -fuzz '^FuzzReadLabels$$' -fuzztime $(FUZZTIME) ./data

## bench: the conv benchmarks on the CPU backend
bench:
	$(GO) test -run '^$$' -bench Conv2D -benchtime 3x ./cpu

## generate: recompile the GLSL shaders to SPIR-V (needs glslc)
generate:
	$(GO) generate ./shaders
