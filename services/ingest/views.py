"""Catalog rows -> the API's JSON objects (docs/api.md), in one place."""

from __future__ import annotations

from services.common.catalog import Catalog


def version_view(row: dict, active: int | None) -> dict:
    scores = row["golden_scores"]
    return {
        "version": row["version"],
        "active": row["version"] == active,
        "created_at": row["created_at"],
        "threshold": row["threshold"],
        "pixel_threshold": row["pixel_threshold"],
        "threshold_source": row["threshold_source"],
        "golden_count": row["golden_count"],
        "coreset_rows": row["coreset_rows"],
        "golden_scores": {k: scores.get(k) for k in ("mean", "std", "max")},
        "build_seconds": row["build_seconds"],
        "sha256": row["sha256"],
    }


def product_view(catalog: Catalog, product: dict, building: dict | None = None) -> dict:
    n_golden, n_insp = catalog.counts(product["id"])
    active = product["active_version"]
    fingerprint = version_view(catalog.version(product["id"], active), active) if active is not None else None
    return {
        "name": product["name"],
        "description": product["description"],
        "created_at": product["created_at"],
        "golden_count": n_golden,
        "inspection_count": n_insp,
        "active_version": active,
        "fingerprint": fingerprint,
        "building": building,
    }


def golden_view(product: dict, row: dict) -> dict:
    return {
        "id": row["id"],
        "filename": row["filename"],
        "sha256": row["sha256"],
        "width": row["width"],
        "height": row["height"],
        "created_at": row["created_at"],
        "image_url": f"/v1/products/{product['name']}/golden/{row['id']}/image",
    }


def inspection_view(product: dict, row: dict) -> dict:
    base = f"/v1/products/{product['name']}/inspections/{row['id']}"
    return {
        "id": row["id"],
        "product": product["name"],
        "version": row["version"],
        "decision": row["decision"],
        "score": row["score"],
        "threshold": row["threshold"],
        "regions": row["regions"],
        "filename": row["filename"],
        "width": row["width"],
        "height": row["height"],
        "created_at": row["created_at"],
        "batch_id": row["batch_id"],
        "feedback": row["feedback"],
        "image_url": f"{base}/image",
        "heatmap_url": f"{base}/heatmap.png",
        "overlay_url": f"{base}/overlay.png",
        "timings_ms": row["timings_ms"],
    }


def webhook_view(row: dict) -> dict:
    return {"url": row["url"], "events": row["events"], "created_at": row["created_at"], "secret_set": bool(row["secret"])}
