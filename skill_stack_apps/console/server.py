"""Serving the console with uvicorn on a socket bound here (port 0: a free one, which tests use)."""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

from skill_stack_apps.console.app import create_app, is_loopback
from skill_stack_apps.console.backend import Backend

#: the token's environment variable (`--token` overrides it)
TOKEN_ENV = "SKILL_STACK_CONSOLE_TOKEN"


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    #: required when `host` is not loopback
    token: str | None = None
    #: HTTPS (a browser's microphone needs HTTPS, or localhost)
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None


def check_options(options: ServeOptions) -> str | None:
    """Why the options are refused (one line), or None."""
    if not is_loopback(options.host) and not options.token:
        return (f"--host {options.host} is not loopback: a token is required (--token TOKEN or ${TOKEN_ENV}), "
                "which every API call and the WebSocket must then carry")
    if options.token is not None and (len(options.token) < 16 or not options.token.isprintable()
                                      or " " in options.token):
        return "the token must be at least 16 printable characters without spaces (e.g. from `openssl rand -hex 16`)"
    if bool(options.ssl_certfile) != bool(options.ssl_keyfile):
        return "HTTPS needs both --ssl-certfile and --ssl-keyfile"
    if not 0 <= options.port <= 65535:
        return f"--port must be 0-65535, got {options.port}"
    return None


class ConsoleServer:
    """The console's HTTP server over a started backend; `start()` serves on a thread, `run()` in this one."""

    def __init__(self, backend: Backend, options: ServeOptions) -> None:
        import uvicorn

        problem = check_options(options)
        if problem is not None:
            raise ValueError(problem)
        self.options = options
        family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((options.host, options.port))  # OSError (port in use) before anything else starts
        self.port = self.socket.getsockname()[1]
        app = create_app(backend, token=options.token, loopback=is_loopback(options.host))
        config = uvicorn.Config(app, log_level="warning", ssl_certfile=options.ssl_certfile,
                                ssl_keyfile=options.ssl_keyfile, ws="websockets-sansio", lifespan="off",
                                timeout_graceful_shutdown=2)  # open pages must not hold a stop up
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.options.ssl_certfile else "http"
        host = f"[{self.options.host}]" if ":" in self.options.host else self.options.host
        return f"{scheme}://{host}:{self.port}/"

    def run(self) -> None:
        """Serve until interrupted (Ctrl-C)."""
        self.server.run(sockets=[self.socket])

    def start(self, timeout: float = 10.0) -> ConsoleServer:
        self._thread = threading.Thread(target=self.run, name="console-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the console's web server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.socket.close()
