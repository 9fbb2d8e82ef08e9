"""Log output: one JSON object per line (LOG_FORMAT=json) or readable text (LOG_FORMAT=text).

Every line logged while a request is served carries its `request_id` (read from the request
context when the line is formatted, so the executor and services need not know it). Secrets are
scrubbed from every formatted line: the configured JWT secret and private key, the database
password, anything shaped like a JWT and the credential of a `Bearer` header."""

from __future__ import annotations

import json
import logging
import logging.config
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy.engine import make_url

from app.observability.context import current_request_id
from app.settings import Settings

LogFormat = Literal["json", "text"]
REDACTED = "[redacted]"
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+")
_PLAIN = re.compile(r"[A-Za-z0-9._:/@+=-]+")
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


class Redactor:
    """Replaces secrets in a formatted line. Secrets shorter than 8 characters are ignored (they
    would scrub ordinary words; the JWT secret is at least 32 characters)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        variants: set[str] = set()
        for secret in secrets:
            if len(secret) >= 8:
                variants.add(secret)
                variants.add(json.dumps(secret, ensure_ascii=False)[1:-1])  # as it appears inside a JSON line
        self._secrets = tuple(sorted(variants, key=len, reverse=True))

    def __call__(self, line: str) -> str:
        for secret in self._secrets:
            if secret in line:
                line = line.replace(secret, REDACTED)
        if "eyJ" in line:
            line = _JWT.sub(REDACTED, line)
        if "earer" in line or "EARER" in line:  # cheap test first: most lines name no bearer at all
            line = _BEARER.sub(r"\g<1>" + REDACTED, line)
        return line


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message", "request_id"?, <fields>..., "exception"?} on one line."""

    def __init__(self, secrets: Sequence[str] = ()) -> None:
        super().__init__()
        self.redact = Redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id is not None:
            entry["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return self.redact(_ENCODER.encode(entry))


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message [request_id=…] key=value …`, then the traceback, if any."""

    def __init__(self, secrets: Sequence[str] = ()) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redact = Redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        extra: list[str] = []
        request_id = current_request_id()
        if request_id is not None:
            extra.append(f"request_id={request_id}")
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            extra.extend(f"{key}={_text_value(value)}" for key, value in fields.items())
        line = super().format(record)
        if extra:
            head, newline, tail = line.partition("\n")
            line = f"{head} {' '.join(extra)}{newline}{tail}"
        return self.redact(line)


def _text_value(value: Any) -> str:
    if isinstance(value, str) and _PLAIN.fullmatch(value):
        return value
    if isinstance(value, list | tuple) and all(isinstance(item, str) and _PLAIN.fullmatch(item) for item in value):
        return ",".join(value) or "-"
    if value is None:
        return "-"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)  # quoted: no newline or space can forge a field


def make_formatter(log_format: LogFormat, secrets: Sequence[str] = ()) -> logging.Formatter:
    return JsonFormatter(secrets) if log_format == "json" else TextFormatter(secrets)


def secret_values(settings: Settings) -> list[str]:
    """What must never appear in a log line: token keys and the database password."""
    values: list[str] = []
    if settings.jwt_secret is not None:
        values.append(settings.jwt_secret.get_secret_value())
    if settings.jwt_private_key is not None:
        values.append(settings.jwt_private_key.get_secret_value())
    try:
        password = make_url(settings.resolved_database_url).password
    except Exception:  # noqa: BLE001 - a malformed URL fails later, with its own message
        password = None
    if password:
        values.append(str(password))
    return values


def logging_config(settings: Settings) -> dict[str, Any]:
    """A `logging.config.dictConfig` mapping: the root logger writes to stderr in LOG_FORMAT, and
    uvicorn's loggers propagate to it (uvicorn applies it in every worker process too)."""
    level = settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {
                "()": "app.observability.logs.make_formatter",
                "log_format": settings.resolved_log_format,
                "secrets": secret_values(settings),
            }
        },
        "handlers": {
            "default": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}
        },
        "root": {"level": level, "handlers": ["default"]},
        "loggers": {
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.access": {"level": level, "handlers": [], "propagate": False},
        },
    }


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))


__all__ = [
    "JsonFormatter",
    "LogFormat",
    "Redactor",
    "TextFormatter",
    "configure_logging",
    "logging_config",
    "make_formatter",
    "secret_values",
]
