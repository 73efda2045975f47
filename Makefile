# vkcnn: `make test` is the project's test command (CI runs it through .ci/run).
GO       ?= go
# A count, not a duration: duration-based -fuzztime can fail spuriously with
# "context deadline exceeded" in Go 1.26 (golang/go#75804).
FUZZTIME ?= 20000x
# staticcheck (honnef.co/go/tools) pinned: v0.8.2 is release 2026.2.2, the first
# line built for Go 1.26 (its go.mod says go 1.26.0). Installed from the Go module
# proxy into bin/staticcheck-$(STATICCHECK_VERSION)/ on first use.
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK := bin/staticcheck-$(STATICCHECK_VERSION)/staticcheck

.PHONY: setup arm64 gpucheck gpucheck-build test fmt-check vet staticcheck tools race quality view nocgo fuzz bench generate demo

## test: the system packages when missing (scripts/setup.sh), gofmt check, go
## vet, staticcheck, the race-detector test run, the accuracy bars, the viewer
## under Xvfb, a CPU-only build, arm64 under qemu, short fuzzing, the GPU check
## on lavapipe
test: setup fmt-check vet staticcheck race quality view nocgo arm64 fuzz gpucheck

## setup: install the system packages and Go tools that are missing
setup:
	./scripts/setup.sh

## demo: install system packages, build the CLI, train the classic models on the
## best backend (the first run fetches MNIST into the user cache), and the cnn
## on Fashion-MNIST; models, metrics and pictures go to out/demo/<model>/
demo:
	./scripts/setup.sh
	$(GO) build -o bin/vkcnn ./cmd/vkcnn
	./bin/vkcnn devices
	./bin/vkcnn train --model seed01 --progress --out out/demo/seed01
	./bin/vkcnn train --model cnn --progress --out out/demo/cnn
	./bin/vkcnn train --model lenet5 --progress --out out/demo/lenet5
	./bin/vkcnn infer --model out/demo/lenet5 --dataset mnist --split test
	./bin/vkcnn train --model cnn --dataset fashion --progress --out out/demo/fashion-cnn
	@echo "demo: models, metrics.json and pictures are in out/demo/seed01, out/demo/cnn, out/demo/lenet5 and out/demo/fashion-cnn"

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## staticcheck: every default check of the pinned staticcheck; any finding fails
staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...

## tools: the Go tools make test runs (scripts/setup.sh calls it)
tools: $(STATICCHECK)

$(STATICCHECK):
	GOBIN=$(CURDIR)/$(dir $(STATICCHECK)) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

race:
	$(GO) test -race -timeout 60m ./...

## quality: the presets' accuracy bars on the real datasets (too slow under -race)
quality:
	$(GO) test -count=1 -v -timeout 40m -run '^TestQuality' ./models/

## view: the live training window (build tag view, GLFW + X11) under Xvfb
view:
	$(GO) vet -tags view ./viewer/ ./cmd/vkcnn/
	xvfb-run -a -s "-screen 0 1280x1024x24 -noreset" $(GO) test -race -tags view ./viewer/

## nocgo: the CPU backend must build without cgo
nocgo:
	CGO_ENABLED=0 $(GO) build ./...

## arm64: the GEMM tests (every kernel set: NEON and pure Go) and the CPU
## backend's conformance, GEMM and convolution tests cross-compiled for arm64
## and run under qemu-user (scripts/setup.sh installs it); about 2 minutes here
ARM64_TMP ?= $(or $(TMPDIR),/tmp)/vkcnn-arm64
arm64:
	mkdir -p $(ARM64_TMP)
	GOARCH=arm64 CGO_ENABLED=0 $(GO) test -c -o $(ARM64_TMP)/gemm.test ./internal/gemm
	GOARCH=arm64 CGO_ENABLED=0 $(GO) test -c -o $(ARM64_TMP)/cpu.test ./cpu
	qemu-aarch64 $(ARM64_TMP)/gemm.test -test.count=1
	cd cpu && qemu-aarch64 $(ARM64_TMP)/cpu.test -test.count=1 -test.run '^(TestConformance|TestGemm|TestMatMul|TestConv)'

## fuzz: each fuzz target for $(FUZZTIME) inputs
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

## gpucheck: the smoke test of scripts/gpu-check.sh on lavapipe (report in
## out/gpu-check/gpu-check.md)
gpucheck:
	./scripts/gpu-check.sh --build .gpucheck
	./scripts/gpu-check.sh --quick --bin .gpucheck --out out/gpu-check/gpu-check.md

## gpucheck-build: prepare .gpucheck (binaries) and .gl (the Vulkan loader) for
## a GPU machine, where `scripts/gpu-check.sh --bin .gpucheck` runs the check
gpucheck-build:
	./scripts/gpu-check.sh --build .gpucheck --loader

## generate: recompile the GLSL shaders to SPIR-V (needs glslc)
generate:
	$(GO) generate ./shaders
