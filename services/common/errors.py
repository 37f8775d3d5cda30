"""One error type for every service, carrying the HTTP status and the stable code clients match on."""

from __future__ import annotations


class BackendUnavailable(OSError):
    """A backend (object store, job bus) cannot be reached or refuses to work. The message is one line
    for the log; clients get 503 `unavailable` naming only the backend, not its address."""

    backend = "a backend"


class ApiError(Exception):
    """An error a client caused or must know about; becomes {"error": {"code", "message"}}."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


def bad_request(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "not_found", message)


def conflict(message: str, code: str = "conflict") -> ApiError:
    return ApiError(409, code, message)


def invalid_image(message: str) -> ApiError:
    return ApiError(422, "invalid_image", message)


def unavailable(message: str) -> ApiError:
    return ApiError(503, "unavailable", message)
