"""Named loggers that import :mod:`logging` only when something is logged.

``import logging`` costs several milliseconds (threading, traceback, string
formatting machinery); the runtime's CLI is started for every container
operation and usually logs nothing, so its modules take their logger from
here. Everything else behaves as a ``logging.Logger`` of the same name.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms

if TYPE_CHECKING:
    import logging


class LazyLogger:
    __slots__ = ("_logger", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._logger: logging.Logger | None = None

    @property
    def logger(self) -> logging.Logger:
        if self._logger is None:
            # Inside a container's set-up process this import is refused (see
            # cove.runtime.preload); _log then drops the message.
            import logging

            self._logger = logging.getLogger(self.name)
        return self._logger

    def _log(self, level: str, msg: str, args: tuple[object, ...]) -> None:
        try:
            logger = self.logger
        except ImportError:
            return
        getattr(logger, level)(msg, *args)

    def debug(self, msg: str, *args: object) -> None:
        self._log("debug", msg, args)

    def info(self, msg: str, *args: object) -> None:
        self._log("info", msg, args)

    def warning(self, msg: str, *args: object) -> None:
        self._log("warning", msg, args)

    def error(self, msg: str, *args: object) -> None:
        self._log("error", msg, args)


def get_logger(name: str) -> LazyLogger:
    return LazyLogger(name)
