# Everything a fresh machine needs goes through these targets; `.ci/run` calls `make test`.

VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
OS_ARCH    := $(shell uname -s | tr A-Z a-z)_$(shell uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/')
MIRROR     ?= $(CURDIR)/target/terraform-mirror
PLUGIN_DIR := $(MIRROR)/registry.terraform.io/gitops-bridge/gitopsbridge/$(VERSION)/$(OS_ARCH)

.PHONY: build build-release release install test demo docs bench

build:
	cargo build --locked --workspace --bins

build-release:
	cargo build --locked --release --bin terraform-provider-gitopsbridge

# Registry archives, manifest and SHA256SUMS in dist/. Only the host platform is built: this
# toolchain has no other Rust targets installed (darwin and arm64 need their targets and linkers).
release: build-release
	python3 scripts/release.py $(VERSION) host=$(OS_ARCH)

# Puts the release build where `terraform init` finds it through a filesystem mirror.
install: build-release
	mkdir -p $(PLUGIN_DIR)
	cp target/release/terraform-provider-gitopsbridge $(PLUGIN_DIR)/terraform-provider-gitopsbridge_v$(VERSION)
	@echo "installed into $(PLUGIN_DIR)"

test:
	cargo test --locked --workspace

demo:
	bash scripts/demo.sh

# Registry docs from the provider schema and examples/ (a test fails when they are stale).
docs: build
	bash scripts/docs.sh

# The provider beside Terraform's own floor (terraform_data): BENCHMARKS.md and BENCHMARKS.svg.
# Builds what it needs and installs moto with pip when missing; about 40 minutes on 2 cores.
bench:
	python3 scripts/bench
