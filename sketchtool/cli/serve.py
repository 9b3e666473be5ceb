"""`sketchtool serve`: start the local drawing page. Thin: load the models, bind, print the URL, run uvicorn
until Ctrl-C or SIGTERM (both stop it cleanly, exit 0)."""

from __future__ import annotations

import contextlib
import ipaddress
import signal
import socket
import threading

import click

from sketchtool.errors import SketchtoolError

__all__ = ["COMMANDS"]

DEFAULT_PORT = 8765
HEAD_TIMEOUT = 10.0  # seconds for a request's line and headers to arrive, from connecting or the previous answer


@click.command("serve")
@click.option("--model", "model_ref", default=None, metavar="MODEL",
              help="The model the page starts with: run directory, checkpoint or embedded name [default: sheep].")
@click.option("--runs", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Also offer every training run found directly in DIR (the page never takes a path).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback also needs --allow-remote.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--allow-remote", is_flag=True,
              help="Allow --host to be an address other machines can reach (no password protects the page).")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="Another host name the page may be opened under (checked against DNS rebinding).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Model calls running at once; more requests wait their turn.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="CPU threads per model call.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, mps or auto.")
def serve_command(model_ref, runs, host, port, allow_remote, allowed_hosts, concurrency, threads, device):
    """Draw in the browser and let a model finish the drawing: a local web page with completion, generation,
    interpolation, pictures turned into strokes, and downloads (SVG, PNG, G-code, .npz). Needs the `serve`
    extra: pip install 'sketchtool[serve]'.

    \b
    Examples:
      sketchtool serve
      sketchtool serve --runs runs/ --port 9000
    """
    from sketchtool.device import configure_threads, resolve_device

    configure_threads(threads)
    try:
        import uvicorn

        from sketchtool.serve.api import Limits
        from sketchtool.serve.app import LOOPBACK_HOSTS, create_app
    except ModuleNotFoundError as e:
        raise SketchtoolError(f"serve needs {e.name}; install it with pip install 'sketchtool[serve]'") from None
    from sketchtool.serve.catalog import load_catalog

    remote = not _is_loopback(host)
    if remote and not allow_remote:
        raise SketchtoolError(f"--host {host} is reachable from other machines; add --allow-remote if you mean it")
    sock = _bind(host, port)
    try:
        catalog = load_catalog(model_ref, runs, device=str(resolve_device(device)),
                               on_skip=lambda line: click.echo(f"Skipped {line}", err=True))
        bound = sock.getsockname()[1]
        hosts = {*LOOPBACK_HOSTS, *(h.lower() for h in allowed_hosts)} | ({host.lower()} if remote else set())
        app = create_app(catalog, Limits(concurrency=concurrency), port=bound, allowed_hosts=hosts)
        if remote:
            names = "" if allowed_hosts else "; other machines must open it under the address itself or a name given with --allowed-host"
            click.echo(f"Warning: listening on {host}, reachable from other machines; anyone who can reach it "
                       f"can use your models and CPU{names}.", err=True)
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else f"[{host}]" if ":" in host else host
        ready = f"Serving {len(catalog.models)} model(s) at http://{shown}:{bound}/ (Ctrl-C to stop)"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=5,
                                http=_protocol_class(HEAD_TIMEOUT))
        _server_class(uvicorn, lambda: click.echo(ready))(config).run(sockets=[sock])
    finally:
        sock.close()
    click.echo("Stopped.")


def _server_class(uvicorn, on_ready):
    """uvicorn's server, but a stop by SIGTERM or Ctrl-C ends the command normally (exit 0, "Stopped."):
    uvicorn itself re-raises the signal after its graceful shutdown, so the process would die by it. `on_ready`
    runs once it listens with its signal handlers in place (so a stop right after the URL is still clean)."""

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            if not self.should_exit:
                on_ready()

        @contextlib.contextmanager
        def capture_signals(self):
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server


def _protocol_class(head_timeout: float):
    """uvicorn's HTTP/1.1 protocol, but a connection that has not sent a whole request head within `head_timeout`
    seconds (of connecting, or of its previous answer) is closed. uvicorn has no such limit (its keep-alive timer
    stops at the first byte), so clients that trickle headers a byte at a time could hold every file descriptor
    (slowloris). Bodies have their own limit (`Limits.body_timeout`)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class Protocol(H11Protocol):
        _head_timer = None

        def connection_made(self, transport):
            super().connection_made(transport)
            self._await_head()

        def handle_events(self):
            super().handle_events()
            if self._head_timer is not None and self._in_request():
                self._stop_head_timer()

        def on_response_complete(self):
            super().on_response_complete()
            if not self.transport.is_closing() and not self._in_request():
                self._await_head()

        def connection_lost(self, exc):
            self._stop_head_timer()
            super().connection_lost(exc)

        def _in_request(self) -> bool:
            return self.cycle is not None and not self.cycle.response_complete

        def _await_head(self):
            self._stop_head_timer()
            self._head_timer = self.loop.call_later(head_timeout, self._head_overdue)

        def _stop_head_timer(self):
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_overdue(self):
            self._head_timer = None
            if not self._in_request() and not self.transport.is_closing():
                self.transport.close()

    return Protocol


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    """Bind before loading models, so a busy port is one clear line and a printed URL always works."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise SketchtoolError(f"--host {host}: not an address this machine has ({e.strerror})") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise SketchtoolError(f"cannot listen on {host}:{port} ({e.strerror}); pick another --port") from None
    sock.set_inheritable(True)
    return sock


COMMANDS = [serve_command]
