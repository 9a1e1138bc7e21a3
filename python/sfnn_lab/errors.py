"""The one exception the client raises for what the server refused (or could not be reached)."""

from __future__ import annotations

from typing import Dict, List, Optional


class SfnnError(Exception):
    """An error answered by an SFNN Lab server, from its body
    ``{"error": {"code", "message", "field"?}}`` (src/api/error.rs).

    ``status`` is the HTTP status (``None`` where the server could not be reached), ``code`` the
    machine-readable code (``invalid_value``, ``not_found``, ``unauthorized``, ``queue_full``,
    ...; ``unreachable`` where no answer came, ``http_<status>`` where the body was not the
    server's error JSON), ``field`` the offending field's path (``lifetime.episodes``,
    ``axes.seed[2]``) on ``invalid_value`` errors, ``message`` the server's explanation,
    ``errors`` every invalid value the server found (``[{"field", "message"}, ...]``, the first
    being ``field``/``message``; empty on other errors), and ``retry_after`` the seconds the
    server asked to wait, where it did.
    """

    def __init__(
        self,
        status: Optional[int],
        code: str,
        message: str,
        field: Optional[str] = None,
        retry_after: Optional[float] = None,
        method: Optional[str] = None,
        url: Optional[str] = None,
        errors: Optional[List[Dict[str, str]]] = None,
    ):
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.retry_after = retry_after
        self.method = method
        self.url = url
        self.errors = list(errors or [])
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        status = f"{self.status} " if self.status is not None else ""
        request = f" ({self.method} {self.url})" if self.method and self.url else ""
        return f"{status}{self.code}: {where}{self.message}{request}"

    def __repr__(self) -> str:
        return (
            f"SfnnError(status={self.status!r}, code={self.code!r}, field={self.field!r}, "
            f"message={self.message!r})"
        )


#: The same class under the name the server's source gives it.
ApiError = SfnnError
