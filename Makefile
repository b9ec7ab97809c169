# lk: build, fetch dependencies, run the demo, test, benchmark.
#
#   make demo    build, fetch what is missing, print clean accuracy and the six-benchmark table of the zoo
#   make benchmarks  the six-benchmark table alone (-A, -R, -9, -C, -P, -O on the Fashion-MNIST twins)
#   make test    everything the tests need, then all tests, then the fuzz targets briefly
#                (not the GPU build, a 329 MB download: its tests skip and say so; make deps-gpu first runs them)
#   make fuzz    the fuzz targets, FUZZTIME each (default 1m)
#   make bench   benchmarks, results in out/bench/results.md (SECTIONS="8 10" make bench: those sections)
#   make reproduce  every figure and table of the paper into out/reproduce/ (make fig1 ... table7: one)
#   make slurm-check  a sharded sweep on a real one-node Slurm cluster, one task requeued mid-run

SHELL    := /bin/bash
GO       ?= go
ORT_VER  := 1.24.1
ORT_DIR  := .deps/onnxruntime-$(ORT_VER)
ORT_LIB  := $(ORT_DIR)/libonnxruntime.so.1
# sha256 of package/bin/napi-v6/linux/x64/libonnxruntime.so.1 in onnxruntime-node@1.24.1
ORT_SHA  := 53ef1ac028dd1b05554b8da28d9159eb3876f99868193d2aaa6e67f0243c23d4
# The GPU build: ONNX Runtime 1.29.0's core and its CUDA 13 plugin provider,
# from the npm packages of asus4/onnxruntime-unity (the only registry copies
# with a CUDA provider), checked by sha256 (make deps-gpu).
GPU_VER  := 1.29.0
GPU_PKG  := 0.4.9
GPU_DIR  := .deps/onnxruntime-gpu-$(GPU_VER)
GPU_LIB  := $(GPU_DIR)/libonnxruntime.so.1
GPU_SRC  := package/Plugins/Linux/x64
GPU_CORE_SHA   := 5715f06d8992ca8eeeddcce43df3a7d38f97d537052126f558e912cb312460ca
GPU_CUDA_SHA   := 56cf3254b118ad837ccc4ed8f6d1b23504bbf7ef91b34cbc0b289cb7f10b3037
GPU_SHARED_SHA := c6a12593396095f5670160e284c35d1700b7708cf3037b7042e2a5200ccae772
DEB_PKGS := libturbojpeg0-dev
# ffmpeg decodes ImageNet-P's videos (the tests read a tiny ImageNet-P tree);
# libonnx-testdata is the ONNX project's backend test suite, which lib/grad's
# gradients are checked against; scikit-learn and matplotlib ship the real
# photographs the procedural frost is measured on
TEST_DEBS := ffmpeg libonnx-testdata chromium python3-sklearn python3-matplotlib
# the Python references make bench runs beside lk (PyTorch, Pillow, OpenCV,
# scikit-image, ImageMagick through Wand)
BENCH_DEBS := python3-torch python3-torchvision python3-pil python3-opencv python3-skimage python3-wand python3-scipy
# training the zoo: Debian's PyTorch and Fashion-MNIST with its training split
ZOO_DEBS := python3-torch dataset-fashion-mnist
# a one-node Slurm cluster for make slurm-check
SLURM_DEBS := slurmctld slurmd slurm-client munge
TOOLS    := $(notdir $(wildcard tools/lk-*))
ZOO      := resnet lk3 lk7 lk13 lk31 vit
FMNIST   := testdata/fashion-mnist/t10k-images-idx3-ubyte.gz

export LK_ORT_LIB ?= $(CURDIR)/$(ORT_LIB)
# Go 1.26's vector intrinsics (simd/archsimd) are built in by default:
# lib/vec's kernels then run vectorised on amd64 CPUs with AVX2 and fall
# back to the scalar code elsewhere, with the same bits (tested under both
# builds). GOEXPERIMENT= make ... builds without them.
export GOEXPERIMENT ?= simd
# amd64 code for the baseline CPU: with GOAMD64=v3 the compiler fuses
# multiply-adds (as it always does on arm64), which moves last bits and so
# some 8-bit levels (measured: zoom blur and the perturbations at 32 px);
# lk's outputs are defined, and tested, without fusion.
export GOAMD64 := v1

.PHONY: all build deps deps-gpu debs testdebs install-debs ort node demo benchmarks test fuzz bench clean slurm-check zoo-train

all: build

build: debs
	$(GO) build -o bin/ ./tools/...

deps: debs ort

# Debian build packages: installed when missing and we are root, otherwise named.
debs:
	@$(MAKE) -s --no-print-directory install-debs PKGS="$(DEB_PKGS)"

testdebs:
	@$(MAKE) -s --no-print-directory install-debs PKGS="$(TEST_DEBS)"

install-debs:
	@missing=""; for p in $(PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (run: sudo apt-get install$$missing)"; exit 1; fi; fi

ort: $(ORT_LIB)

deps-gpu: $(GPU_LIB)

# The GPU build laid out as ONNX Runtime lays out its own: the core as
# libonnxruntime.so.1 and the providers beside it (lib/ort looks there).
# The CPU library stays the default; LK_ORT_LIB=$(CURDIR)/$(GPU_LIB) picks this one.
$(GPU_LIB):
	@command -v npm >/dev/null || { echo "npm is needed to fetch ONNX Runtime (apt-get install npm)"; exit 1; }
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	  (cd $$tmp && npm pack --silent com.github.asus4.onnxruntime@$(GPU_PKG) com.github.asus4.onnxruntime.linux-x64-gpu@$(GPU_PKG) >/dev/null) && \
	  mkdir -p $$tmp/core $$tmp/gpu && \
	  tar -xzf $$tmp/com.github.asus4.onnxruntime-$(GPU_PKG).tgz -C $$tmp/core $(GPU_SRC)/libonnxruntime.so && \
	  tar -xzf $$tmp/com.github.asus4.onnxruntime.linux-x64-gpu-$(GPU_PKG).tgz -C $$tmp/gpu \
	    $(GPU_SRC)/libonnxruntime_providers_cuda.so $(GPU_SRC)/libonnxruntime_providers_shared.so && \
	  printf '%s  %s\n' $(GPU_CORE_SHA) $$tmp/core/$(GPU_SRC)/libonnxruntime.so \
	    $(GPU_CUDA_SHA) $$tmp/gpu/$(GPU_SRC)/libonnxruntime_providers_cuda.so \
	    $(GPU_SHARED_SHA) $$tmp/gpu/$(GPU_SRC)/libonnxruntime_providers_shared.so | sha256sum -c --quiet - && \
	  mkdir -p $(GPU_DIR) && \
	  mv $$tmp/gpu/$(GPU_SRC)/libonnxruntime_providers_cuda.so $$tmp/gpu/$(GPU_SRC)/libonnxruntime_providers_shared.so $(GPU_DIR)/ && \
	  mv $$tmp/core/$(GPU_SRC)/libonnxruntime.so $(GPU_LIB) && \
	  echo "ONNX Runtime $(GPU_VER) with the CUDA provider in $(GPU_DIR)"

# ONNX Runtime from the npm registry package onnxruntime-node, checked by sha256.
$(ORT_LIB):
	@command -v npm >/dev/null || { echo "npm is needed to fetch ONNX Runtime (apt-get install npm)"; exit 1; }
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	  (cd $$tmp && npm pack --silent onnxruntime-node@$(ORT_VER) >/dev/null) && \
	  tar -xzf $$tmp/onnxruntime-node-$(ORT_VER).tgz -C $$tmp package/bin/napi-v6/linux/x64/libonnxruntime.so.1 && \
	  echo "$(ORT_SHA)  $$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" | sha256sum -c --quiet - && \
	  mkdir -p $(ORT_DIR) && mv $$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1 $(ORT_LIB) && \
	  echo "ONNX Runtime $(ORT_VER) in $(ORT_LIB)"

# The README's main command: clean top-1 of every zoo model on the shipped
# Fashion-MNIST test split (classes 0-7), through real pipelines, then the
# six robustness benchmarks on their twins: the default zoo (one seed,
# about 3 minutes on two cores); SEEDS=all make demo: over the three seeds.
demo: build ort
	@mkdir -p out
	@bin/lk-data -q --gray3 --crop 32 --keep-labels 0-7 $(FMNIST) > out/fmnist-test.arrow
	@for m in $(ZOO); do bin/lk-infer -q --model testdata/zoo/$$m.onnx < out/fmnist-test.arrow > out/clean-$$m.arrow || exit 1; done
	@echo "Clean accuracy on Fashion-MNIST test, classes 0-7 (8000 images):"
	@bin/lk-metrics --by model --format text $(patsubst %,out/clean-%.arrow,$(ZOO))
	@echo
	@pipelines/benchmarks.sh

# The six robustness benchmarks on the Fashion-MNIST twins for every zoo
# model (pipelines/benchmarks.sh says how each twin is built).
benchmarks: build ort
	@pipelines/benchmarks.sh

# The paper's figures and tables (pipelines/reproduce.sh says how each is
# made and which variables point it at other models and real data).
FIGURES := fig1 fig2 fig3 fig4 fig5 fig6 fig7 fig8 fig9 fig10 table1 table2 table3 table4 table5 table6 table7 autoattack erf calibration shapebias effective
.PHONY: reproduce $(FIGURES)
reproduce: build ort
	@pipelines/reproduce.sh
$(FIGURES): build ort
	@pipelines/reproduce.sh $@

# The JavaScript Arrow implementation the interoperability test reads with.
NODE_ARROW := .deps/node/node_modules/apache-arrow
node: $(NODE_ARROW)
$(NODE_ARROW):
	@command -v npm >/dev/null || { echo "npm is needed for the interoperability test (apt-get install npm)"; exit 1; }
	@mkdir -p .deps/node && cd .deps/node && npm install --silent --no-audit --no-fund --no-save apache-arrow@21.2.0 >/dev/null
	@echo "apache-arrow 21.2.0 in .deps/node"

test: build ort node testdebs
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...
	GOEXPERIMENT= $(GO) test -count=1 ./lib/vec ./lib/corrupt ./lib/preprocess # the scalar build's kernels against the same references
	GODEBUG=cpu.avx512f=off $(GO) test -count=1 ./lib/vec ./lib/corrupt ./lib/preprocess # as on a CPU with AVX2 and no AVX-512
	$(MAKE) -s --no-print-directory fuzz FUZZTIME=12s

# Fuzz targets (go test -fuzz), each for FUZZTIME: the stream reader, the
# ONNX loader, the image decoders, IDX files and label files. make test
# runs them for a minute in all; run them longer by hand (make fuzz
# FUZZTIME=10m). A crasher is written to the package's testdata/fuzz and
# becomes a test case.
FUZZTIME ?= 1m
FUZZ := lib/stream:FuzzReader lib/onnx:FuzzParse lib/imageio:FuzzDecode lib/dataset:FuzzIDX lib/dataset:FuzzLabelFiles
fuzz:
	@set -e; for t in $(FUZZ); do \
	  echo "fuzz $$t for $(FUZZTIME)"; \
	  (cd $${t%%:*} && $(GO) test -run '^$$' -fuzz "^$${t##*:}\$$" -fuzztime $(FUZZTIME) .); \
	done

# A real Slurm cluster on this machine runs a sharded sweep as a job array,
# one task requeued mid-run, and the shards' table must equal the unsharded
# run's (pipelines/slurm/check.sh; needs root for the daemons).
slurm-check: build ort
	@$(MAKE) -s --no-print-directory install-debs PKGS="$(SLURM_DEBS)"
	@pipelines/slurm/check.sh

# Train the zoo: every model with one recipe and budget, seeds 0-2, into
# testdata/zoo/seeds/sI/ (hours on two cores; resumes from
# testdata/zoo/ckpt/ where a killed run stopped).
zoo-train:
	@$(MAKE) -s --no-print-directory install-debs PKGS="$(ZOO_DEBS)"
	/usr/bin/python3 testdata/zoo/train.py

bench: build ort
	@$(MAKE) -s --no-print-directory install-debs PKGS="$(BENCH_DEBS)"
	pipelines/bench/bench.sh

clean:
	rm -rf bin out
