"""Serving the pages: Solara's own web app on uvicorn, bound to loopback unless told otherwise.

The socket is bound before the server starts, so a busy port is reported as a
user error and `--port 0` gets a free port with no race; the address printed
is the one actually bound. Solara is configured for an offline machine:
production mode, no telemetry, no banner.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import threading
import warnings
from typing import NoReturn

from ..errors import UserError
from .setup import ENV_ARMS, ENV_SCENARIO, Setup

#: Solara settings read from the environment when solara is first imported.
SOLARA_ENV = {
    "SOLARA_MODE": "production",
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
    "SOLARA_THEME_SHOW_BANNER": "False",
}


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free port)."""
    if not 0 <= port <= 65535:
        raise UserError(f"--port: expected a port number from 0 to 65535, found {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UserError(f"--host: expected an address or a host name of this machine, "
                        f"found {host!r} ({exc.strerror})") from None
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        hint = "; choose another --port, or --port 0 for any free one" if port else ""
        raise UserError(f"--host {host} --port {port}: cannot listen there "
                        f"({exc.strerror}){hint}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def warm_up(setup: Setup) -> None:
    """Step a throwaway market of each arm once, so that the compiled kernels are loaded
    (0.5-1 s from numba's cache) before the first Step instead of during it."""
    from .live import LiveMarket

    for arm in setup.arms:
        LiveMarket(setup.scenario.arms[arm], arm=arm).step()


def serve(setup: Setup, sock: socket.socket, out=sys.stdout) -> NoReturn:
    """Serve the page for `setup` on `sock` until interrupted, then end the process."""
    for key, value in SOLARA_ENV.items():
        os.environ.setdefault(key, value)
    os.environ["SOLARA_APP"] = "simulator.viz.app:" + ("TwinPage" if setup.twin else "Page")
    os.environ[ENV_SCENARIO] = str(setup.scenario.path.resolve())
    os.environ[ENV_ARMS] = ",".join(setup.arms)
    host, port = sock.getsockname()[:2]
    os.environ["SERVER_NAME"], os.environ["SERVER_PORT"] = host, str(port)
    # Solara asks for SameSite=None cookies and warns on every plain-http page load.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none")

    threading.Thread(target=warm_up, args=(setup,), name="infogap-warm-up", daemon=True).start()
    import uvicorn

    config = uvicorn.Config("solara.server.starlette:app", log_level="warning",
                            timeout_graceful_shutdown=2)
    shown = " vs ".join(setup.arms)
    print(f"infogap viz: {setup.scenario.name} ({shown}) at {url_of(sock)}", file=out,
          flush=True)
    if not is_loopback(host):
        print(f"infogap viz: note: listening on {host}, so anyone who can reach this machine "
              "can use the page", file=out, flush=True)
    print("infogap viz: press Ctrl+C to stop", file=out, flush=True)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    print("infogap viz: stopped", file=out, flush=True)
    sys.stderr.flush()
    # A page left playing keeps Mesa's stepping thread alive, and it is not a
    # daemon: leave without waiting for it (nothing is left unwritten).
    os._exit(0)
