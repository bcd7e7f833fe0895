# SPDX-License-Identifier: Apache-2.0
# The two commands: `make run` and `make test`. Each makes a fresh machine ready
# on its own (system packages, configure, build). See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 20
CTEST_FLAGS ?= --output-on-failure -j $(JOBS)

.PHONY: all deps build run test test-dev test-lostwake test-js test-js-caged test-asan test-tsan test-fuzz test-models \
        bench bench-gpu fuzz models release clean help soak

all: build

help:
	@echo "make run     install missing packages, build, run the default pipeline (in a window when DISPLAY is set)"
	@echo "make test    build and run every test (dev, lost-wake check, asan+ubsan, tsan, fuzz, SPIN models)"
	@echo "make bench   build release and run the benchmarks against their peers"
	@echo "make bench-gpu  the GPU frame path (full size on an NVIDIA GPU, else lavapipe scaled down)"
	@echo "make fuzz    run the libFuzzer targets longer (FUZZ_SECONDS=$(FUZZ_SECONDS) each by default x10)"
	@echo "make models  run the SPIN model checks"
	@echo "make soak    isolation mode's long kill/hang/host-death loops (docs/isolation.md, \"Soak\"); not in make test"

deps: node_modules/.package-lock.json
	@scripts/ensure-deps.sh

# npm packages (node-addon-api, uPlot, playwright-core, typescript, electron's
# type definitions); reinstalled when the lock changes. Electron's binary is
# never fetched (the pinned version fetches it on first launch; the variable
# stops older ones fetching it at install): the example's tests need only its
# types (examples/electron/README.md).
node_modules/.package-lock.json: package.json package-lock.json
	@scripts/ensure-deps.sh
	ELECTRON_SKIP_BINARY_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error

define preset_build
	cmake --preset $(1) >/dev/null
	cmake --build --preset $(1) -j $(JOBS)
endef

build: deps
	$(call preset_build,dev)

# The default scene, ~10 s at 60 Hz: in a window when a display is there (DISPLAY set;
# Esc or Q ends it early), offscreen otherwise; writes out/report.html, out/trace.json,
# out/snapshot.png (and frames.csv, stats.json). RUN_ARGS adds triptych run flags.
RUN_ARGS ?=
run: build
	TRIPTYCH_BUILD_DIR=build/dev node node/bin/triptych.mjs run --present auto --out out $(RUN_ARGS)

test-dev: deps
	$(call preset_build,dev)
	ctest --preset dev $(CTEST_FLAGS) -LE lostwake

# The lost-wake negative check (docs/verification.md): the wake-up tests built
# with every FUTEX_WAKE suppressed; each case passes only if its test FAILS.
# The cases mostly sleep until a 2 s timeout, so they run 8 at a time.
test-lostwake: deps
	$(call preset_build,dev)
	ctest --preset dev -L lostwake --output-on-failure -j 8

test-asan: deps
	$(call preset_build,asan)
	ctest --preset asan $(CTEST_FLAGS)

test-tsan: deps
	$(call preset_build,tsan)
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest --preset tsan $(CTEST_FLAGS)

test-fuzz: deps
	$(call preset_build,fuzz)
	scripts/run-fuzz.sh build/fuzz $(FUZZ_SECONDS)

test-models: deps
	scripts/run-models.sh

# JS tests (node:test) against the dev build's artefacts.
test-js: test-dev
	TRIPTYCH_BUILD_DIR=build/dev node --test tests/node/ tests/report/

# The JS suites that load the addon, against its caged twins (build/dev/caged:
# every external-buffer call answers as in Electron's V8 memory cage).
CAGED_JS_TESTS := addon engine frame_pacer faults hot_swap electron_context_aware electron_utility
test-js-caged: test-dev
	TRIPTYCH_BUILD_DIR=build/dev/caged node --test $(CAGED_JS_TESTS:%=tests/node/%.test.mjs)

test: test-dev test-lostwake test-js test-js-caged test-asan test-tsan test-fuzz test-models
	@echo "triptych: all test suites passed"

fuzz: deps
	$(call preset_build,fuzz)
	scripts/run-fuzz.sh build/fuzz $$(( $(FUZZ_SECONDS) * 10 ))

models: test-models

# Isolation mode's soak (docs/isolation.md, "Soak"), never part of make test:
# 1,000 SIGKILLs of the render process against a running engine (half at
# random times, half at the named injection points), 50 SIGSTOPs, 100 hosts
# killed with -9, then the recovery benchmark (warm and cold, idle and
# under stress-ng --cpu 2). A few minutes on 2 cores.
soak: deps
	$(call preset_build,dev)
	TRIPTYCH_SOAK=1 build/dev/tests/pipeline/pipeline_isolated_engine_test \
	  --gtest_filter='Isolation.SigkillsAtRandomTimesAndNamedPoints*:Isolation.AStoppedRenderProcess*'
	build/dev/tests/isolate/isolate_supervisor_test --gtest_filter='Supervisor.AHostKilled*'
	build/dev/bench/isolate/bench_isolate_recovery

release: deps
	$(call preset_build,release)

bench: release
	scripts/run-bench.sh build/release

# The GPU frame path's benchmark (docs/BENCHMARKS.md, "make bench-gpu"): full
# size on an NVIDIA GPU (at most 6 minutes), else lavapipe scaled down 100x
# (under 2 minutes). Writes out/bench-gpu/. Never part of make test.
bench-gpu: build
	TRIPTYCH_BUILD_DIR=build/dev node bench/gpu/run.mjs --out out/bench-gpu

clean:
	rm -rf build out
