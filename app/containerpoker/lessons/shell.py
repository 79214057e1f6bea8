"""An interactive shell in a fresh lesson container: lesson 2 by hand.

The browser terminal (xterm.js over a WebSocket) and ``containerpoker lesson shell`` both open
one :class:`ShellSession`: a labelled container running bash on a TTY (``docker run -it``),
attached both ways. Closing the session removes the container, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import socket

import docker

from .flow2_shell import shell_container
from .framework import Lab


def own_socket(stream) -> socket.socket:
    """A socket to read and write an attached or exec'd terminal through: a TLS engine's
    stream is one already; over the local socket Docker hands a read-only file, so a socket
    object of our own is made on a copy of its descriptor."""
    if hasattr(stream, "sendall"):
        return stream
    return socket.socket(fileno=os.dup(stream.fileno()))


class ShellSession:
    """Bytes in, bytes out, a terminal size, and clean-up."""

    def __init__(
        self, client: docker.DockerClient, lab: Lab, term: str, network: str | None = "none"
    ) -> None:
        self.client = client
        self.lab = lab
        self.container = shell_container(lab, lab.name("shell"), term, network=network)
        self._stream = None
        self._socket = None
        self.on_close = None  # called once the session is closed

    @property
    def name(self) -> str:
        return self.container.name

    def start(self) -> ShellSession:
        """Start the container and attach to its terminal (stdin, stdout, stderr)."""
        self.container.start()
        self._stream = self.client.api.attach_socket(
            self.container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        )
        self._socket = own_socket(self._stream)
        return self

    def send(self, data: bytes) -> None:
        """Type into the terminal."""
        self._socket.sendall(data)

    def recv(self, size: int = 4096) -> bytes:
        """What the terminal shows next (blocks); ``b""`` when the shell has ended."""
        return self._socket.recv(size)

    def resize(self, rows: int, cols: int) -> None:
        self.client.api.resize(self.container.id, height=rows, width=cols)

    def attach_terminal(self) -> None:
        """Hand this process's own terminal to the shell until it exits (the CLI)."""
        import dockerpty

        dockerpty.start(self.client.api, self.container.id)

    def close(self) -> list[str]:
        """End the session and remove everything it made; the names removed."""
        for stream in (self._socket, self._stream):
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.close()
        try:
            return self.lab.cleanup()
        finally:
            self.client.close()
            if self.on_close is not None:
                callback, self.on_close = self.on_close, None
                callback()
