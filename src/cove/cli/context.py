"""What every command gets: the daemon client and the process's standard streams."""

from __future__ import annotations

import sys

from cove.cli.transport import Client

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, TextIO


class Context:
    def __init__(self, host: str, stdout: TextIO | None = None, stderr: TextIO | None = None,
                 stdin: BinaryIO | None = None, prog: str = "cove") -> None:
        self.host = host
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.stdin = stdin or sys.stdin.buffer
        self.prog = prog
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.host)
        return self._client

    @property
    def stdout_bin(self) -> BinaryIO:
        self.stdout.flush()
        return self.stdout.buffer

    def out(self, text: str) -> None:
        self.stdout.write(text)

    def err(self, text: str) -> None:
        self.stderr.write(text)
        self.stderr.flush()
