# Lifeboat: build, test and try it out. GNU make.
#
#   make deps    install the Debian packages the build needs (scripts/install-deps.sh)
#   make build   release build; the binary is .build/release/lifeboat
#   make test    every test of the package (Swift Testing; the exit status is swift test's)
#   make demo    back up /usr/share/doc, back it up again, restore and verify (scripts/demo.sh)
#   make bench   side-by-side benchmark against restic and BorgBackup (bench/run.sh)
#   make bench-s3  Lifeboat vs restic to one local SeaweedFS S3 server (bench/s3.sh)
#   make clean   remove the build directory
#
# SCRATCH=DIR builds in DIR instead of .build (e.g. `make test SCRATCH=.build-mine`).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

# The toolchain lives in /opt/swift unless another swift is on PATH already.
ifeq ($(shell command -v swift 2>/dev/null),)
export PATH := /opt/swift/usr/bin:$(PATH)
endif

SWIFT ?= swift
# Where SwiftPM builds; another directory keeps parallel work trees' builds apart.
SCRATCH ?= .build
LIFEBOAT := $(SCRATCH)/release/lifeboat

.PHONY: deps build test demo bench bench-s3 clean

deps:
	scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release --product lifeboat --scratch-path $(SCRATCH)
	@echo "built $(LIFEBOAT)"

# The integration tests run the real debug binary, so it is built first. Swift Testing runs
# tests in parallel inside one process by default; --parallel only affects XCTest.
test: deps
	$(SWIFT) build --scratch-path $(SCRATCH)
	$(SWIFT) test --scratch-path $(SCRATCH)

demo: deps build
	LIFEBOAT_BIN="$(abspath $(LIFEBOAT))" scripts/demo.sh

bench: deps build
	LIFEBOAT_BIN="$(abspath $(LIFEBOAT))" bench/run.sh

bench-s3: deps build
	LIFEBOAT_BIN="$(abspath $(LIFEBOAT))" bench/s3.sh

clean:
	rm -rf $(SCRATCH)
