"""The process's log lines: uvicorn's text, or one JSON object per line
(`AUTOCONF_LOG_FORMAT=json`, python-json-logger) for a log collector: time, level, logger,
message, the process id, and for an access line its method, path (without its query: a
form token may be in it), status and client."""

import logging
from typing import Any

from pythonjsonlogger.json import JsonFormatter


class AutoconfJsonFormatter(JsonFormatter):
    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data.pop("color_message", None)  # uvicorn's message again, with terminal colours
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            client, method, path, version, status = args
            path = str(path).split("?", 1)[0]
            log_data.update(client=client, method=method, path=path, http=version, status=status)
            log_data["message"] = f"{method} {path} {status}"


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for uvicorn and autoconf's own loggers."""
    level = level.upper()
    if log_format == "json":
        formatter: dict[str, Any] = {
            "()": AutoconfJsonFormatter,
            "fmt": "%(levelname)s %(name)s %(message)s %(process)d",
            "rename_fields": {"levelname": "level", "name": "logger", "process": "pid"},
            "timestamp": "time",  # ISO 8601, UTC
            "json_ensure_ascii": False,
        }
    else:
        formatter = {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    handler = {"class": "logging.StreamHandler", "formatter": "main", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {"main": handler},
        "loggers": {
            "uvicorn": {"handlers": ["main"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["main"], "level": level, "propagate": False},
            "autoconf": {"handlers": ["main"], "level": level, "propagate": False},
        },
    }
