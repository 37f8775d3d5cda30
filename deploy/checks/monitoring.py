"""The monitoring files against the service contract's metrics, beyond what promtool checks by itself.

- deploy/monitoring/dashboard.json: valid JSON, a uid, unique panel ids, every panel placed; every query
  is PromQL that promtool accepts (Grafana's variables replaced by sample values) and names only contract
  metrics;
- deploy/monitoring/alerts.yaml: names only contract metrics;
- together they use every contract metric; the ones services/common/metrics.py does not register yet are
  reported (a warning: the services are being finished in parallel).

Run from the repository root: python deploy/checks/monitoring.py [--promtool promtool]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
# the service contract (docs/deployment.md, metrics to watch): name -> type
CONTRACT = {
    "goldenshot_http_request_duration_seconds": "histogram",
    "goldenshot_stage_duration_seconds": "histogram",
    "goldenshot_inspections_total": "counter",
    "goldenshot_build_duration_seconds": "histogram",
    "goldenshot_jobs_total": "counter",
    "goldenshot_webhook_deliveries_total": "counter",
    "goldenshot_queue_depth": "gauge",
    "goldenshot_jobs_dead_lettered_total": "counter",
    "goldenshot_oldest_open_job_seconds": "gauge",
    "goldenshot_drift_ratio": "gauge",
}
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$namespace": "plant-a", "$product": ".*"}
METRIC = re.compile(r"\b(goldenshot_[a-z0-9_]+)")


def series_names() -> set[str]:
    names: set[str] = set()
    for name, kind in CONTRACT.items():
        names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"} if kind == "histogram" else {name}
    return names


def unknown_metrics(expr: str) -> list[str]:
    known = series_names()
    return [m for m in METRIC.findall(expr) if m not in known]


def used_base_names(expressions: list[str]) -> set[str]:
    """Contract metric names the expressions use (histogram series counted for their histogram)."""
    used = set()
    for expr in expressions:
        for metric in METRIC.findall(expr):
            base = re.sub(r"_(bucket|sum|count)$", "", metric)
            used.add(base if base in CONTRACT else metric)
    return used


def dashboard_queries(dashboard: dict, errors: list[str]) -> list[tuple[str, str]]:
    """(where, expr) of every panel target; structural problems go to errors."""
    for key in ("uid", "title", "panels", "schemaVersion"):
        if key not in dashboard:
            errors.append(f"dashboard.json: no {key!r}")
    queries: list[tuple[str, str]] = []
    ids: list[int] = []
    for panel in dashboard.get("panels", []):
        ids.append(panel.get("id"))
        where = f"panel {panel.get('id')} {panel.get('title')!r}"
        if "gridPos" not in panel:
            errors.append(f"dashboard.json: {where} has no gridPos")
        if panel.get("type") == "row":
            continue
        if not panel.get("targets"):
            errors.append(f"dashboard.json: {where} has no query")
        for target in panel.get("targets", []):
            queries.append((f"{where} {target.get('refId')}", target.get("expr", "")))
    if len(ids) != len(set(ids)):
        errors.append("dashboard.json: panel ids are not unique")
    return queries


def promtool_accepts(promtool: str, queries: list[tuple[str, str]], errors: list[str]) -> None:
    """promtool parses rule expressions: check every dashboard query as a recording rule."""
    rules = []
    for i, (_, expr) in enumerate(queries):
        for variable, value in sorted(GRAFANA_VARIABLES.items(), key=lambda kv: -len(kv[0])):
            expr = expr.replace(variable, value)
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
    result = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
    Path(f.name).unlink()
    if result.returncode != 0:
        errors.append(f"dashboard.json: promtool rejects a query:\n{result.stdout}{result.stderr}")


def registered_in_code() -> set[str]:
    source = (ROOT / "services" / "common" / "metrics.py").read_text()
    return set(re.findall(r'"(goldenshot_[a-z0-9_]+)"', source))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--promtool", default="promtool")
    args = parser.parse_args()
    errors: list[str] = []

    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    queries = dashboard_queries(dashboard, errors)
    for where, expr in queries:
        for metric in unknown_metrics(expr):
            errors.append(f"dashboard.json: {where} uses {metric}, not a contract metric")
    promtool_accepts(args.promtool, queries, errors)

    alerts = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    alert_exprs = [(rule["alert"], str(rule["expr"])) for group in alerts["groups"] for rule in group["rules"]]
    for name, expr in alert_exprs:
        for metric in unknown_metrics(expr):
            errors.append(f"alerts.yaml: {name} uses {metric}, not a contract metric")

    used = used_base_names([e for _, e in queries] + [e for _, e in alert_exprs])
    unused = sorted(set(CONTRACT) - used)
    if unused:
        errors.append(f"contract metrics neither on the dashboard nor in an alert: {unused}")

    missing = sorted(set(CONTRACT) - registered_in_code())
    for error in errors:
        print(error)
    if missing:
        print(f"WARN contract metrics not registered in services/common/metrics.py yet: {', '.join(missing)}")
    print(f"monitoring: {len(queries)} dashboard queries, {len(alert_exprs)} alerts; {0 if errors else 1} passed, {1 if errors else 0} failed")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
