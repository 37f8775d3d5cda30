"""Validate what `helm template` rendered (make chart-render -> out/chart/<case>-<kubernetes version>.yaml).

1. Schema: every resource against Kubernetes' own OpenAPI schema of that version, strictly (unknown
   fields are errors), with kubernetes-validate. The prometheus-operator kinds (ServiceMonitor,
   PrometheusRule) are CRDs that kubernetes-validate cannot know: they are validated against the strict
   JSON schemas in deploy/checks/schemas/ instead. Any other kind without a schema is an error.
2. Wiring, which a schema cannot see: Service, PodDisruptionBudget, NetworkPolicy and ServiceMonitor
   selectors select something, named ports exist, HPAs scale an existing Deployment, mounted volumes
   exist, keys read from the chart's own Secret are in it.
3. The service contract and SECURITY.md: each goldenshot service gets the settings it needs, probes hit
   /healthz and /readyz (the scorer's startup and liveness: its gRPC health service; Triton
   /v2/health/ready), every container has requests and limits, runs non-root with a read-only root
   filesystem and no capabilities, images are pinned to a tag.

Run: python deploy/checks/manifests.py [--kube-versions "1.30.0 1.37.0"] out/chart/*.yaml
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import SchemaNotFoundError

SCHEMAS = Path(__file__).resolve().parent / "schemas"
CRDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor-monitoring-v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule-monitoring-v1.json",
}
WORKLOADS = {"Deployment", "StatefulSet", "Pod"}
SERVICES = ("ingest", "builder", "scorer")
# settings every goldenshot service must receive (ConfigMap or env), per the service contract
REQUIRED_ENV = {
    "GOLDENSHOT_SERVER_HOST",
    "GOLDENSHOT_SERVER_PORT",
    "GOLDENSHOT_SERVER_CATALOG_URL",
    "GOLDENSHOT_SERVER_OBJECT_STORE",
    "GOLDENSHOT_SERVER_S3_ENDPOINT",
    "GOLDENSHOT_SERVER_S3_ACCESS_KEY",
    "GOLDENSHOT_SERVER_S3_SECRET_KEY",
    "GOLDENSHOT_SERVER_S3_BUCKET",
    "GOLDENSHOT_SERVER_S3_SECURE",
    "GOLDENSHOT_SERVER_BUS",
    "GOLDENSHOT_SERVER_NATS_URL",
    "GOLDENSHOT_SERVER_QDRANT_URL",
    "GOLDENSHOT_SERVER_REQUIRE_API_KEY",
    "GOLDENSHOT_BACKBONE",
    "GOLDENSHOT_THREADS",
}
ROLE_ENV = {"ingest": {"GOLDENSHOT_SERVER_SCORER_URL"}, "scorer": {"GOLDENSHOT_SERVER_GRPC_PORT"}, "builder": set()}
TRITON_ENV = {"GOLDENSHOT_SERVER_FEATURES", "GOLDENSHOT_SERVER_TRITON_URL", "GOLDENSHOT_SERVER_TRITON_MODEL"}


def load(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kube_version(path: Path, default: str) -> str:
    match = re.search(r"-(\d+\.\d+\.\d+)\.yaml$", path.name)
    return match.group(1) if match else default


def crd_schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text())


def validate_schema(doc: dict, version: str) -> str | None:
    key = (doc.get("apiVersion"), doc.get("kind"))
    try:
        if key in CRDS:
            jsonschema.Draft202012Validator(crd_schema(CRDS[key])).validate(doc)
        else:
            kubernetes_validate.validate(doc, version, strict=True)
    except SchemaNotFoundError:
        return f"no schema for {key[1]} {key[0]}: add one to deploy/checks/schemas/ or do not render it"
    except jsonschema.ValidationError as exc:
        path = ".".join(str(p) for p in exc.absolute_path)
        return f"{path}: {exc.message}"
    return None


def pod_spec(doc: dict) -> dict:
    return doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]


def pod_labels(doc: dict) -> dict:
    return doc["metadata"].get("labels", {}) if doc["kind"] == "Pod" else doc["spec"]["template"]["metadata"].get("labels", {})


def selects(selector: dict, labels: dict) -> bool:
    """A LabelSelector (matchLabels / matchExpressions) or a plain Service selector map."""
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        return all(labels.get(k) == v for k, v in selector.items())
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        value, op, values = labels.get(expr["key"]), expr["operator"], expr.get("values", [])
        if (op == "In" and value not in values) or (op == "NotIn" and value in values):
            return False
        if (op == "Exists" and value is None) or (op == "DoesNotExist" and value is not None):
            return False
    return True


def containers(doc: dict) -> Iterator[dict]:
    spec = pod_spec(doc)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def port_names(doc: dict) -> set:
    return {p.get("name") for c in containers(doc) for p in c.get("ports", [])} | {p["containerPort"] for c in containers(doc) for p in c.get("ports", [])}


def component(doc: dict) -> str | None:
    labels = pod_labels(doc) if doc["kind"] in WORKLOADS else doc["metadata"].get("labels", {})
    return labels.get("app.kubernetes.io/component") if labels.get("app.kubernetes.io/name") == "goldenshot" else None


def check_workload(doc: dict, configmaps: dict, errors: list[str]) -> None:
    name = f"{doc['kind']}/{doc['metadata']['name']}"
    spec = pod_spec(doc)
    if spec.get("automountServiceAccountToken") is not False:
        errors.append(f"{name}: automountServiceAccountToken must be false (nothing calls the API)")
    pod_security = spec.get("securityContext", {})
    if pod_security.get("runAsNonRoot") is not True:
        errors.append(f"{name}: pod securityContext.runAsNonRoot must be true")
    volumes = {v["name"] for v in spec.get("volumes", [])}
    volumes |= {t["metadata"]["name"] for t in doc.get("spec", {}).get("volumeClaimTemplates", [])}
    role = component(doc)
    strategy = doc["spec"].get("strategy", {}) if doc["kind"] == "Deployment" else {}
    if strategy.get("type") == "Recreate" and "rollingUpdate" in strategy:
        errors.append(f"{name}: strategy Recreate with rollingUpdate (the API server refuses it)")
    for c in containers(doc):
        for port in c.get("ports", []):
            if "name" in port and not re.fullmatch(r"(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?", port["name"]):
                errors.append(f"{name}: port name {port['name']!r} is no IANA service name (15 characters, a-z0-9-)")
        where = f"{name} container {c['name']}"
        image = c.get("image", "")
        if "@sha256:" not in image and (":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")):
            errors.append(f"{where}: image {image!r} is not pinned to a tag or digest")
        resources = c.get("resources", {})
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in resources.get(kind, {}):
                    errors.append(f"{where}: no {kind}.{resource}")
        security = c.get("securityContext", {})
        if security.get("allowPrivilegeEscalation") is not False:
            errors.append(f"{where}: allowPrivilegeEscalation must be false")
        if security.get("readOnlyRootFilesystem") is not True:
            errors.append(f"{where}: readOnlyRootFilesystem must be true")
        if "ALL" not in security.get("capabilities", {}).get("drop", []):
            errors.append(f"{where}: capabilities must drop ALL")
        for mount in c.get("volumeMounts", []):
            if mount["name"] not in volumes:
                errors.append(f"{where}: mounts {mount['name']!r}, which is no volume of the pod")
        if doc["kind"] != "Pod":
            for probe in ("readinessProbe", "livenessProbe"):
                if probe not in c:
                    errors.append(f"{where}: no {probe}")
        if role in SERVICES and doc["kind"] == "Deployment":
            # the scorer is alive when its gRPC port answers the standard health service (native gRPC probe)
            grpc_port = next((p["containerPort"] for p in c.get("ports", []) if p.get("name") == "grpc"), None)
            alive = f"grpc:{grpc_port}" if role == "scorer" else "/healthz"
            probes = {p: _probe_target(c.get(p, {})) for p in ("startupProbe", "livenessProbe", "readinessProbe")}
            if probes != {"startupProbe": alive, "livenessProbe": alive, "readinessProbe": "/readyz"}:
                errors.append(f"{where}: probes must be startup+liveness {alive}, readiness /readyz, are {probes}")
            if c.get("command") != ["python", "-m", "goldenshot", "service", role]:
                errors.append(f"{where}: must run python -m goldenshot service {role}, runs {c.get('command')}")
            env = {e["name"] for e in c.get("env", [])}
            for ref in c.get("envFrom", []):
                env |= set(configmaps.get(ref.get("configMapRef", {}).get("name"), {}))
            missing = (REQUIRED_ENV | ROLE_ENV[role]) - env
            if "GOLDENSHOT_SERVER_TRITON_URL" in env or "GOLDENSHOT_SERVER_FEATURES" in env:
                missing |= TRITON_ENV - env
            if missing:
                errors.append(f"{where}: settings of the service contract missing: {sorted(missing)}")
        if role == "triton":
            ready = c.get("readinessProbe", {}).get("httpGet", {}).get("path")
            if ready != "/v2/health/ready":
                errors.append(f"{where}: Triton readiness must be /v2/health/ready, is {ready}")


def _probe_target(probe: dict) -> str | None:
    """'grpc:<port>' for a gRPC probe, else the httpGet path."""
    if "grpc" in probe:
        return f"grpc:{probe['grpc'].get('port')}"
    return probe.get("httpGet", {}).get("path")


def check_wiring(docs: list[dict], errors: list[str]) -> None:
    workloads = [d for d in docs if d["kind"] in WORKLOADS and not d["metadata"].get("annotations", {}).get("helm.sh/hook")]
    by_kind = lambda kind: [d for d in docs if d["kind"] == kind]  # noqa: E731
    secrets = {d["metadata"]["name"]: set(d.get("stringData", {})) | set(d.get("data", {})) for d in by_kind("Secret")}
    for w in [d for d in docs if d["kind"] in WORKLOADS]:
        for c in containers(w):
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["name"] in secrets and ref["key"] not in secrets[ref["name"]] and not ref.get("optional"):
                    errors.append(f"{w['kind']}/{w['metadata']['name']}: reads key {ref['key']!r}, which Secret {ref['name']} does not have")
    for service in by_kind("Service"):
        name = f"Service/{service['metadata']['name']}"
        targets = [w for w in workloads if selects(service["spec"].get("selector", {}), pod_labels(w))]
        if not targets:
            errors.append(f"{name}: selects no workload")
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            if targets and not any(target in port_names(w) for w in targets):
                errors.append(f"{name}: targetPort {target!r} is no container port of the pods it selects")
    for pdb in by_kind("PodDisruptionBudget"):
        if "minAvailable" in pdb["spec"] and "maxUnavailable" in pdb["spec"]:
            errors.append(f"PodDisruptionBudget/{pdb['metadata']['name']}: both minAvailable and maxUnavailable")
        if not any(selects(pdb["spec"]["selector"], pod_labels(w)) for w in workloads):
            errors.append(f"PodDisruptionBudget/{pdb['metadata']['name']}: selects no workload")
    deployments = {d["metadata"]["name"]: d for d in by_kind("Deployment")}
    for hpa in by_kind("HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        if hpa["spec"].get("minReplicas", 1) > hpa["spec"]["maxReplicas"]:
            errors.append(f"HorizontalPodAutoscaler/{hpa['metadata']['name']}: minReplicas above maxReplicas")
        if target["kind"] != "Deployment" or target["name"] not in deployments:
            errors.append(f"HorizontalPodAutoscaler/{hpa['metadata']['name']}: scales {target['kind']}/{target['name']}, which is not rendered")
        elif "replicas" in deployments[target["name"]]["spec"]:
            errors.append(f"Deployment/{target['name']}: sets replicas although an HPA scales it (upgrades would fight the HPA)")
    for policy in by_kind("NetworkPolicy"):
        name = f"NetworkPolicy/{policy['metadata']['name']}"
        selected = [w for w in workloads if selects(policy["spec"]["podSelector"], pod_labels(w))]
        if not selected:
            errors.append(f"{name}: selects no workload")
        for rule in policy["spec"].get("ingress", []):
            for port in rule.get("ports", []):
                if selected and not all(port["port"] in port_names(w) for w in selected):
                    errors.append(f"{name}: port {port['port']!r} is not a container port of every pod it selects")
    for monitor in by_kind("ServiceMonitor"):
        services = [s for s in by_kind("Service") if selects(monitor["spec"]["selector"], s["metadata"].get("labels", {}))]
        if not services:
            errors.append(f"ServiceMonitor/{monitor['metadata']['name']}: selects no Service")
        for endpoint in monitor["spec"]["endpoints"]:
            if not any(endpoint["port"] == p.get("name") for s in services for p in s["spec"]["ports"]):
                errors.append(f"ServiceMonitor/{monitor['metadata']['name']}: no selected Service has a port named {endpoint['port']!r}")
    rendered = {component(d) for d in workloads}
    for role in SERVICES:
        if role not in rendered:
            errors.append(f"no Deployment for the {role} service")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--kube-versions", default="1.30.0", help="used for files whose name carries no version")
    args = parser.parse_args()
    default_version = args.kube_versions.split()[0]
    passed = failed = 0
    for path in args.files:
        version = kube_version(path, default_version)
        docs = load(path)
        errors: list[str] = []
        for doc in docs:
            error = validate_schema(doc, version)
            if error:
                errors.append(f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}: schema: {error}")
        configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
        for doc in docs:
            if doc["kind"] in WORKLOADS:
                check_workload(doc, configmaps, errors)
        check_wiring(docs, errors)
        kinds: dict[str, int] = {}
        for doc in docs:
            kinds[doc["kind"]] = kinds.get(doc["kind"], 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        if errors:
            failed += 1
            print(f"FAIL {path.name} (Kubernetes {version}, strict): {len(docs)} resources")
            for error in errors:
                print(f"  {error}")
        else:
            passed += 1
            print(f"ok   {path.name} (Kubernetes {version}, strict): {len(docs)} resources: {summary}")
    print(f"manifests: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
