"""Intercom-shaped errors: one exception type that every layer raises, one body builder."""
from __future__ import annotations

import uuid
from typing import Any, Dict, Optional


class ApiError(Exception):
    """An error that is answered with Intercom's ``error.list`` body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: Optional[str],
        *,
        headers: Optional[Dict[str, str]] = None,
        field: Optional[str] = None,
    ) -> None:
        super().__init__(message or code)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.field = field


def new_request_id() -> str:
    return str(uuid.uuid4())


def error_body(code: str, message: Optional[str], request_id: Optional[str], field: Optional[str] = None) -> Dict[str, Any]:
    err: Dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        err["field"] = field
    body: Dict[str, Any] = {"type": "error.list", "request_id": request_id, "errors": [err]}
    return body


# Codes and messages used when a status is injected as a fault rather than produced by the API logic.
FAULT_ERRORS = {
    400: ("bad_request", "Bad Request"),
    401: ("unauthorized", "Access Token Invalid"),
    403: ("forbidden", "You do not have access to this resource"),
    404: ("not_found", "Resource Not Found"),
    408: ("request_timeout", "Request Timeout"),
    409: ("conflict", "Conflict"),
    422: ("parameter_invalid", "Unprocessable Entity"),
    429: ("rate_limit_exceeded", "Exceeded rate limit"),
    500: ("server_error", "Internal Server Error"),
    502: ("bad_gateway", "Bad Gateway"),
    503: ("service_unavailable", "Service Unavailable"),
    504: ("gateway_timeout", "Gateway Timeout"),
}


def bad_param(message: str, field: Optional[str] = None) -> ApiError:
    return ApiError(400, "parameter_invalid", message, field=field)


def not_found(message: str = "User Not Found") -> ApiError:
    return ApiError(404, "not_found", message)
