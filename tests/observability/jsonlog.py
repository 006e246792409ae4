"""Capture what the JSON log configuration (LOG_FORMAT=json) writes, line by line."""
import contextlib
import io
import json
import logging
import logging.config

from xero_connect.observability.logs import logging_config


@contextlib.contextmanager
def json_log_lines(level=logging.DEBUG):
    """Yields a list that, after the block, holds every line the root logger wrote, parsed
    as JSON; the handler is built by logging's own dictConfig machinery from the settings'
    config for LOG_FORMAT=json."""
    config = logging_config(log_format="json", level="DEBUG")
    configurator = logging.config.DictConfigurator(config)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(configurator.configure_formatter(config["formatters"]["json"]))
    handler.addFilter(configurator.configure_filter(config["filters"]["context"]))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(level)
    lines: list[dict] = []
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        raw = stream.getvalue().splitlines()
        lines.extend(json.loads(line) for line in raw)  # every line is one JSON object
        lines.append({"_raw": stream.getvalue()})
