"""The CLI's error kinds; main() turns each into a message and docker's exit code."""

from __future__ import annotations


class CliError(Exception):
    """An error to report on stderr; ``exit_code`` is what the process returns."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(CliError):
    """Bad command line: docker prints it with the usage line and exits 125."""

    exit_code = 125
    help_verb = "Run"

    def __init__(self, message: str, command: str = "", usage: str = "") -> None:
        super().__init__(message)
        self.command = command
        self.usage = usage

    def render(self, command: str) -> str:
        """docker 28's layout: message, the usage line, where to get help."""
        text = self.message + "\n"
        if self.usage:
            text += f"\nUsage:  {self.usage}\n"
        return text + f"\n{self.help_verb} '{command} --help' for more information\n"


class ArgumentCountError(UsageError):
    """Too few or too many arguments: docker exits 1 for these."""

    exit_code = 1


class DaemonError(CliError):
    """The daemon answered with an error status and a ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    def __str__(self) -> str:
        return f"Error response from daemon: {self.message}"


class ConnectError(CliError):
    """The daemon's socket could not be reached."""


class StatusExit(Exception):
    """Leave with ``code`` and print nothing (a container's exit status, a detach)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def exec_exit_code(message: str) -> int:
    """docker's mapping of a failed container start to 127/126/125.

    The runtime's error text is all the client has: a missing executable reads
    "not found"/"no such file", an unrunnable one "permission denied"/"exec format".
    """
    lower = message.lower()
    if ("executable file not found" in lower or "no such file or directory" in lower
            or "not found in $path" in lower or "command not found" in lower):
        return 127
    if "permission denied" in lower or "exec format error" in lower:
        return 126
    return 125
