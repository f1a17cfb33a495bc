"""Logging for cove-runtime: stderr or --log FILE, text or json (what engines parse).

containerd passes ``--log FILE --log-format json`` and reads the last
``"level":"error"`` line of that file to report why a call failed, so errors
go there in runc's shape; they are also written to stderr.
"""

from __future__ import annotations

import json
import logging
import sys
import time


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"level": record.levelname.lower().replace("warning", "warning"),
                           "msg": record.getMessage(),
                           "time": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                 time.gmtime(record.created))})


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        msg = json.dumps(record.getMessage())
        return f'time="{stamp}" level={record.levelname.lower()} msg={msg}'


class RuntimeLog:
    def __init__(self, logger: logging.Logger, to_file: bool) -> None:
        self.logger = logger
        self.to_file = to_file

    def fatal(self, message: str) -> int:
        self.logger.error("%s", message)
        if self.to_file:
            sys.stderr.write(message + "\n")
        return 1


def setup_logging(path: str | None, fmt: str, debug: bool) -> RuntimeLog:
    logger = logging.getLogger("cove")
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    handler: logging.Handler = (logging.FileHandler(path, mode="a") if path
                                else logging.StreamHandler(sys.stderr))
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _TextFormatter())
    logger.handlers[:] = [handler]
    logger.propagate = False
    return RuntimeLog(logging.getLogger("cove.runtime"), to_file=bool(path))

