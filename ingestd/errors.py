"""The one small exception hierarchy every ingestd module raises from."""

from __future__ import annotations


class IngestdError(Exception):
    """Base of every error ingestd raises on purpose."""


class ConfigError(IngestdError):
    """A user config (server TOML, Pinot schema or table config) is invalid.

    `path` is the JSON/TOML path of the offending field, so the message can name it.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path} {problem}" if path else problem)


class NotSupportedYet(ConfigError):
    """A valid Pinot setting that ingestd does not implement yet: rejected, never ignored."""

    def __init__(self, path: str, what: str) -> None:
        super().__init__(path, f"{what} is not supported yet")


class NotFound(IngestdError):
    """A named schema, table or segment does not exist (HTTP 404)."""


class Conflict(IngestdError):
    """The request clashes with what exists (HTTP 409): a duplicate table, a schema still in use."""


class StreamError(IngestdError):
    """The stream (broker) failed in a way the caller should hear about."""


class QueryError(IngestdError):
    """A query failed; `code` is Pinot's broker error code (150 parse, 190 no table, ...)."""

    SQL_PARSING = 150
    TABLE_DOES_NOT_EXIST = 190
    QUERY_EXECUTION = 200
    RESOURCE_LIMIT = 245  # SERVER_RESOURCE_LIMIT_EXCEEDED: over the memory limit
    EXECUTION_TIMEOUT = 250
    SERVER_NOT_RESPONDING = 427
    TOO_MANY_REQUESTS = 429  # more queries in flight than [query] max_concurrent allows
    QUERY_CANCELLED = 503
    QUERY_VALIDATION = 700  # e.g. an unknown function
    UNKNOWN_COLUMN = 710

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(message)
