"""Domain errors: what went wrong in the product's words, with the stable code clients match on.

No transport status lives here; each transport maps these classes in one place (REST:
services/ingest/app.py, gRPC: services/scorer/grpc_server.py).
"""

from __future__ import annotations


class DomainError(Exception):
    """A failure a caller caused or must know about; `code` is stable, `message` says what to do."""

    code = "error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidRequest(DomainError):
    """A name, id or value the caller sent is not allowed."""

    code = "bad_request"


class Unauthorized(DomainError):
    """No API key where one is required, or an unknown one."""

    code = "unauthorized"


class NotFound(DomainError):
    """The thing named does not exist (for this tenant)."""

    code = "not_found"


class Conflict(DomainError):
    """The current state forbids it: a duplicate name, no golden samples, no fingerprint yet."""

    code = "conflict"


class InvalidImage(DomainError):
    """Bytes that do not decode to an image within the limits."""

    code = "invalid_image"


class Unprocessable(DomainError):
    """Well-formed input the engine cannot work with (a fit or a zero-shot batch that fails)."""

    code = "unprocessable"


class Gone(DomainError):
    """It existed and was removed on purpose (an image past the retention policy); the rest is kept."""

    code = "gone"


class Unavailable(DomainError):
    """Something needed is temporarily unusable (a stored fingerprint, a dependency); try again later."""

    code = "unavailable"


class Busy(DomainError):
    """Too much work in flight right now (a full queue, a per-client or per-tenant bound); the caller
    should retry after `retry_after` seconds. Saying so at once beats a slow answer or a dead probe."""

    code = "busy"

    def __init__(self, message: str, code: str | None = None, retry_after: int = 1) -> None:
        super().__init__(message, code)
        self.retry_after = retry_after


class TooManyRequests(Busy):
    """This caller (a tenant or a client address) holds its share already; others are still served."""

    code = "too_many_requests"


class BackendUnavailable(OSError):
    """A backend (object store, job bus, Triton) cannot be reached or refuses to work. The message is one
    line for the log; clients are told only which backend, not its address."""

    backend = "a backend"


ERRORS: dict[str, type[DomainError]] = {cls.__name__: cls for cls in (DomainError, *DomainError.__subclasses__(), TooManyRequests)}
"""By class name: how an error crosses a process boundary (the scorer's gRPC trailers) and comes back the same."""
