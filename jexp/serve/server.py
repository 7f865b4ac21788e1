"""Running the page's application: the socket is bound here (so a port in use is one line, before
any model loads), then uvicorn serves on it until Ctrl-C or SIGTERM."""
from __future__ import annotations

import ipaddress
import socket
import sys
import threading
from pathlib import Path

LOOPBACK = "127.0.0.1"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); port 0 takes a free one. OSError as the system says it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise OSError(e.errno, f"cannot listen on {host}:{port}: {e.strerror}") from None
    sock.listen(128)
    return sock


def server(app, sock: socket.socket, *, log: bool = False):
    """A uvicorn ``Server`` for ``app`` on ``sock`` (call ``.run(sockets=[sock])``; set
    ``.should_exit`` to stop it)."""
    import uvicorn
    config = uvicorn.Config(app, log_level="warning" if not log else "info", access_log=log,
                            timeout_graceful_shutdown=5, limit_concurrency=256)
    return uvicorn.Server(config)


def address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def serve(host: str, port: int, models_dir: Path, echo=print) -> int:
    """``jexp serve``: bind, load and compile the models, serve until stopped."""
    from jexp.serve import app, models
    sock = bind(host, port)
    if not is_loopback(host):
        print(f"jexp: warning: listening on {host}, not loopback: anyone who can reach this machine on port "
              f"{sock.getsockname()[1]} can use the page", file=sys.stderr)
    echo(f"loading and compiling the models in {models_dir} …")
    loaded = models.Models(models_dir)
    if loaded.missing:
        print(f"jexp: warning: not in {models_dir}: {', '.join(loaded.missing)} (those parts of the page are off)",
              file=sys.stderr)
    srv = server(app.make_app(loaded), sock)
    echo(f"jexp serve: {address(sock)}  (Ctrl-C stops)")
    try:
        srv.run(sockets=[sock])
    finally:
        sock.close()
    return 0


def in_thread(app, host: str = LOOPBACK, port: int = 0):
    """(base URL, stop()) of ``app`` served from a background thread: for tests and benchmarks."""
    import time
    sock = bind(host, port)
    srv = server(app, sock)
    t = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    while not srv.started and t.is_alive():
        time.sleep(0.02)

    def stop():
        srv.should_exit = True
        t.join(timeout=10)
        sock.close()
    return address(sock), stop
