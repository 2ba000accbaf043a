"""AUTOCONF_LOG_FORMAT=json: one JSON object per line, as a log collector reads them."""

import io
import json
import logging
import logging.config

from autoconf.observability.logs import logging_config


def lines_of(emit) -> list[dict]:  # type: ignore[no-untyped-def]
    config = logging_config("json", "info")
    stream = io.StringIO()
    config["handlers"]["main"] = {"class": "logging.StreamHandler", "formatter": "main"}
    logging.config.dictConfig(config)
    for name in ("uvicorn", "uvicorn.access", "autoconf"):
        logging.getLogger(name).handlers[0].setStream(stream)  # type: ignore[attr-defined]
    emit()
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_is_one_json_object_with_time_level_logger_and_pid() -> None:
    def emit() -> None:
        logging.getLogger("autoconf.media.jobs").warning("Séance « %s » en échec", "A8")
        try:
            raise ValueError("ffmpeg a renvoyé 1")
        except ValueError:
            logging.getLogger("autoconf.live.hub").exception("lecture impossible")

    warning, error = lines_of(emit)
    assert warning["message"] == "Séance « A8 » en échec"
    assert warning["level"] == "WARNING" and warning["logger"] == "autoconf.media.jobs"
    assert warning["time"].endswith("+00:00") and isinstance(warning["pid"], int)
    assert error["level"] == "ERROR" and "ValueError: ffmpeg a renvoyé 1" in error["exc_info"]


def test_an_access_line_has_its_fields_and_no_query_string() -> None:
    def emit() -> None:
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d',
            "10.0.0.7:51234",
            "GET",
            "/api/v1/live/3/ws?csrf_token=secret-form-token",
            "1.1",
            101,
        )
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)

    access, started = lines_of(emit)
    assert access["method"] == "GET" and access["status"] == 101
    assert access["path"] == "/api/v1/live/3/ws" and access["client"] == "10.0.0.7:51234"
    assert "secret-form-token" not in json.dumps(access)
    assert started["message"] == "Started server process [42]"
    assert "color_message" not in started
