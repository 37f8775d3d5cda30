"""The services' configuration in one typed object, read from env (GOLDENSHOT_SERVER_*) and the CLI.

The engine's own settings (backbone, coreset, scoring...) stay in goldenshot.settings.Settings,
read from GOLDENSHOT_*; a service holds one of each. Defaults are safe: loopback only, CORS closed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Where the server listens, where it keeps data, and the limits it enforces on clients."""

    model_config = SettingsConfigDict(env_prefix="GOLDENSHOT_SERVER_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    grpc_port: int | None = Field(50051, ge=0, le=65535)  # the scorer's gRPC API on `host`; None: off, 0: any free port
    data_dir: Path = Path("data")
    # SQLAlchemy URL of the catalog the services share (PostgreSQL in a fleet); None: SQLite in data_dir
    catalog_url: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"  # JSON lines on stderr; INFO logs each request
    # console build served at / when it exists (services/console/dist after `make console`)
    console_dir: Path = Path(__file__).resolve().parents[1] / "console" / "dist"

    features: Literal["local", "triton"] = "local"  # the backbone in-process, or served by Triton
    triton_url: str = "127.0.0.1:8001"  # Triton's gRPC endpoint
    triton_model: str = "backbone"
    triton_timeout_s: float = Field(10.0, gt=0)
    qdrant_url: str | None = None  # a Qdrant server; None: local mode
    qdrant_path: Path | None = None  # local mode on disk (slow writes); None: in memory, refilled at start
    qdrant_api_key: str | None = None

    require_api_key: bool = False  # False: requests without a key act as tenant "default"
    cors_origins: list[str] = []  # closed unless listed

    max_request_bytes: int = Field(256 * 2**20, ge=1024)  # whole request body
    max_files: int = Field(200, ge=1)  # parts per multipart upload
    max_golden: int = Field(200, ge=1)  # golden samples per product
    page_limit: int = Field(200, ge=1)  # most items per page of a list

    inference_slots: int = Field(1, ge=1)  # inspections scored at once; torch uses its threads per slot
    job_workers: int = Field(1, ge=1)  # builds and batches run at once
    hot_products: int = Field(32, ge=1)  # fingerprints kept hot in memory (least recently used dropped)

    webhook_timeout_s: float = Field(5.0, gt=0)
    webhook_attempts: int = Field(6, ge=1)
    webhook_backoff_s: float = Field(1.0, gt=0)  # doubles after each failed attempt
