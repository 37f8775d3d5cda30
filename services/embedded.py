"""`goldenshot serve` and `goldenshot keys`: the embedded server, one process on 127.0.0.1.

Registered as plugins of the goldenshot CLI (entry point group goldenshot.commands), so the library
itself never imports this package.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

# Loaded by every `goldenshot` command, --help included: the server's modules (torch, SQLAlchemy,
# uvicorn) are imported by the command that runs, not here.
if TYPE_CHECKING:
    from services.common.catalog import Catalog
    from services.common.settings import ServiceSettings

keys = typer.Typer(help="API keys of tenants (stored hashed; a key is shown once).", no_args_is_help=True)


def _service(data_dir: Optional[Path], **given: object) -> ServiceSettings:
    from services.common.settings import ServiceSettings

    values = {k: v for k, v in given.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return ServiceSettings(**values)


def _catalog(service: ServiceSettings) -> Catalog:
    """The server's catalog: GOLDENSHOT_SERVER_CATALOG_URL, else the SQLite file in the data dir."""
    from services.common.catalog import Catalog
    from services.runtime import catalog_url

    return Catalog(service.catalog_url or catalog_url(service.data_dir))


def serve(
    host: Annotated[Optional[str], typer.Option(help="bind address (default 127.0.0.1)")] = None,
    port: Annotated[Optional[int], typer.Option(help="port (default 8080; 0 picks a free one)")] = None,
    data_dir: Annotated[Optional[Path], typer.Option(help="where products, images and results live (default ./data)")] = None,
    grpc_port: Annotated[Optional[int], typer.Option(help="gRPC scorer port (default 50051; 0 picks a free one)")] = None,
    require_api_key: Annotated[Optional[bool], typer.Option(help="refuse requests without a valid X-API-Key")] = None,
) -> None:
    """Run the embedded server: REST API, jobs, console, gRPC scorer, metrics."""
    _run(_service(data_dir, host=host, port=port, grpc_port=grpc_port, require_api_key=require_api_key))


def service(
    role: Annotated[str, typer.Argument(help="ingest | builder | scorer")],
    host: Annotated[Optional[str], typer.Option(help="bind address (default 127.0.0.1; 0.0.0.0 in a container)")] = None,
    port: Annotated[Optional[int], typer.Option(help="HTTP port: REST, or health and metrics only for the builder (default 8080)")] = None,
    grpc_port: Annotated[Optional[int], typer.Option(help="scorer: gRPC port (default 50051)")] = None,
    data_dir: Annotated[Optional[Path], typer.Option(help="local data (default ./data)")] = None,
) -> None:
    """Run one deployable of the distributed deployment; backends come from GOLDENSHOT_SERVER_* (S3, NATS,
    Qdrant, Triton, the shared catalog URL), see docs/distributed.md."""
    if role not in ("ingest", "builder", "scorer"):
        typer.echo(f"error: role must be ingest, builder or scorer, not {role!r}", err=True)
        raise typer.Exit(2)
    _run(_service(data_dir, role=role, host=host, port=port, grpc_port=grpc_port))


def _run(service: ServiceSettings) -> None:
    import uvicorn

    from goldenshot.settings import Settings
    from services.common.logs import setup_logging
    from services.ingest.app import create_app  # FastAPI only when serving
    from services.runtime import Runtime

    setup_logging(service.log_level)
    app = create_app(Runtime(service, Settings()))
    uvicorn.run(app, host=service.host, port=service.port, log_config=None, access_log=False, timeout_graceful_shutdown=10)


@keys.command("create")
def create_key(
    tenant: Annotated[str, typer.Argument(help="the tenant (factory) the key acts for")],
    data_dir: Annotated[Optional[Path], typer.Option(help="the server's data dir (default ./data)")] = None,
    label: Annotated[str, typer.Option(help="a note to recognise the key by")] = "",
) -> None:
    """Create a key for TENANT and print it; only its hash is stored."""
    from services.common.auth import hash_key, new_key
    from services.runtime import private_dir
    from services.common.names import InvalidName, check_slug

    try:
        check_slug(tenant, "tenant")
    except InvalidName as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    service = _service(data_dir)
    private_dir(service.data_dir)
    key = new_key()
    _catalog(service).keys.add(hash_key(key), tenant, label)
    typer.echo(key)


@keys.command("adopt")
def adopt_products(
    tenant: Annotated[str, typer.Argument(help="the tenant that becomes the owner")],
    data_dir: Annotated[Optional[Path], typer.Option(help="the server's data dir (default ./data)")] = None,
    from_tenant: Annotated[Optional[str], typer.Option("--from", help="the tenant whose products move (default: the one of products made without keys)")] = None,
) -> None:
    """Give TENANT the products made while keys were optional, so its keys see them once
    --require-api-key is on. Run it with the server stopped or running; running it again moves nothing."""
    from services.common.auth import DEFAULT_TENANT
    from services.common.names import InvalidName, check_slug
    from services.core.tenants import adopt

    from_tenant = from_tenant or DEFAULT_TENANT
    try:
        check_slug(tenant, "tenant")
    except InvalidName as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if tenant == from_tenant:
        typer.echo(f"error: the products of {from_tenant!r} already belong to it: name another tenant", err=True)
        raise typer.Exit(2)
    catalog = _catalog(_service(data_dir))
    done = adopt(catalog, tenant, from_tenant)
    typer.echo(f"{len(done.moved)} product(s) of {from_tenant!r} now belong to {tenant!r}" + (f": {', '.join(done.moved)}" if done.moved else ""))
    if tenant not in catalog.keys.tenants():
        typer.echo(f"{tenant!r} has no API key yet: goldenshot keys create {tenant}" + (f" --data-dir {data_dir}" if data_dir else ""))
    if done.left:
        typer.echo(f"error: left with {from_tenant!r}, as {tenant!r} already has products of these names: {', '.join(done.left)}", err=True)
        raise typer.Exit(1)


@keys.command("list")
def list_keys(data_dir: Annotated[Optional[Path], typer.Option(help="the server's data dir (default ./data)")] = None) -> None:
    """Tenants with keys (the keys themselves are not stored)."""
    for known in _catalog(_service(data_dir)).keys.list():
        typer.echo(f"{known.tenant}\t{known.created_at}\t{known.label}")


@keys.command("revoke")
def revoke_keys(
    tenant: Annotated[str, typer.Argument(help="tenant whose keys are removed")],
    data_dir: Annotated[Optional[Path], typer.Option(help="the server's data dir (default ./data)")] = None,
) -> None:
    """Remove every key of TENANT."""
    typer.echo(f"revoked {_catalog(_service(data_dir)).keys.revoke(tenant)} key(s)")
