"""Where a product's things live: object-store keys and vector-store names, made only from server ids."""

from __future__ import annotations


def product_prefix(product_id: str) -> str:
    return f"products/{product_id}"


def golden_key(product_id: str, sample_id: str) -> str:
    return f"products/{product_id}/golden/{sample_id}"


def fingerprint_key(product_id: str, version: int) -> str:
    return f"products/{product_id}/fingerprints/v{version}.safetensors"


def inspection_prefix(product_id: str, inspection_id: str) -> str:
    return f"products/{product_id}/inspections/{inspection_id}"


def batch_prefix(product_id: str, job_id: str) -> str:
    return f"products/{product_id}/batches/{job_id}"


def batch_item_key(product_id: str, job_id: str, index: int) -> str:
    return f"{batch_prefix(product_id, job_id)}/{index}"


def alias_name(product_id: str) -> str:
    """The vector-store alias that names the product's active version."""
    return f"gs_{product_id}"


def collection_name(product_id: str, version: int) -> str:
    return f"gs_{product_id}_v{version}"


def defects_name(product_id: str, space: str) -> str:
    """The product's library of past defect regions in one feature space (backbone, taps, projection):
    features of another space are not comparable, so they never share a collection."""
    return f"gs_{product_id}_defects_{space}"
