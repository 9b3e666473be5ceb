"""The ASGI app of `sketchtool serve` (Starlette): the page's three static files, the JSON API, and the guards
a local server needs: Host and Origin checks (DNS rebinding, cross-site requests), a body cap, JSON-only
POSTs, no CORS, a bounded number of inference calls off the event loop, and JSON errors without tracebacks."""

from __future__ import annotations

import asyncio
import logging
from importlib import resources
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sketchtool.errors import SketchtoolError
from sketchtool.serve import api
from sketchtool.serve.api import ApiError, Limits
from sketchtool.serve.catalog import Catalog

__all__ = ["LOOPBACK_HOSTS", "STATIC_FILES", "create_app"]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
STATIC_FILES = {  # URL path -> (file in sketchtool/serve/static, media type); nothing else is served
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
                                 b"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    (b"cache-control", b"no-store"),
]
log = logging.getLogger("sketchtool.serve")


def create_app(catalog: Catalog, limits: Limits | None = None, *, port: int | None = None,
               allowed_hosts: Iterable[str] = LOOPBACK_HOSTS) -> Callable:
    """The app serving `catalog`. Requests must name one of `allowed_hosts` in their Host header (and on
    `port`, when given); a request from a page (Origin header) must come from such an address too."""
    limits = limits or Limits()
    gate = asyncio.Semaphore(limits.concurrency)
    static = {url: (resources.files("sketchtool.serve").joinpath("static", name).read_bytes(), media)
              for url, (name, media) in STATIC_FILES.items()}

    async def page(request: Request) -> Response:
        body, media = static[request.url.path]
        return Response(body, media_type=media)

    async def models(request: Request) -> Response:
        return JSONResponse(api.describe_server(catalog, limits))

    async def run(work: Callable[[], Any]) -> Any:
        """One model call in a worker thread, once one of `limits.concurrency` slots is free."""
        try:
            await asyncio.wait_for(gate.acquire(), timeout=limits.queue_timeout)
        except asyncio.TimeoutError:
            raise ApiError(503, "the server is busy; try again in a moment") from None
        try:
            return await run_in_threadpool(work)
        finally:
            gate.release()

    batcher = _Batcher(gate, limits)

    def endpoint(handle: Callable[[dict], Any], max_body: int = limits.max_body):
        async def respond(request: Request) -> Response:
            try:
                result = await handle(api.parse_json(await _read_body(request, limits, max_body)))
            except ApiError as e:
                return _error(e.status, e.message)
            except SketchtoolError as e:
                return _error(422, api.refusal(e).message)
            except Exception as e:  # a bug of ours: logged here, one line to the page
                log.error("internal error in %s", request.url.path, exc_info=e)
                return _error(500, f"internal error ({type(e).__name__}); see the server's log")
            if isinstance(result, tuple):  # a file: (bytes, media type, name)
                data, media, name = result
                return Response(data, media_type=media,
                                headers={"content-disposition": f'attachment; filename="{name}"'})
            return JSONResponse(result)
        return respond

    async def complete(payload: dict) -> Any:
        job = await run_in_threadpool(api.read_completion, catalog, payload, limits)
        return await batcher.submit(job)

    async def generate(payload: dict) -> Any:
        return await run(lambda: api.generate(catalog, payload, limits))

    async def interpolate(payload: dict) -> Any:
        return await run(lambda: api.interpolate(catalog, payload, limits))

    async def export(payload: dict) -> Any:
        return await run(lambda: api.export(payload, limits))

    async def vectorize(payload: dict) -> Any:  # the picture is decoded in the worker thread too
        return await run(lambda: api.vectorize(catalog, payload, limits))

    routes = [Route(url, page, methods=["GET"]) for url in STATIC_FILES]
    routes += [
        Route("/api/models", models, methods=["GET"]),
        Route("/api/complete", endpoint(complete), methods=["POST"]),
        Route("/api/generate", endpoint(generate), methods=["POST"]),
        Route("/api/interpolate", endpoint(interpolate), methods=["POST"]),
        Route("/api/export", endpoint(export), methods=["POST"]),
        Route("/api/vectorize", endpoint(vectorize, limits.max_picture_body), methods=["POST"]),
    ]

    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(exc.status_code, exc.detail if isinstance(exc.detail, str) else "request refused")

    async def any_error(request: Request, exc: Exception) -> Response:
        return _error(500, "internal error; see the server's log")

    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: any_error})
    return _Guard(app, frozenset(h.lower() for h in allowed_hosts), port)


class _Batch:
    """A waiting completion: its job, the future its request awaits, and whether a batch has taken it."""

    def __init__(self, job: api.CompletionJob):
        self.job = job
        self.future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.taken = False


class _Batcher:
    """Completions that wait for a model slot are decoded together: whoever gets a slot takes its own job and
    every waiting job with the same key (up to `limits.batch_drawings` endings) and decodes them in one batch,
    so 20 clients cost little more than one. A job waits at most `limits.queue_timeout` for a slot (503)."""

    def __init__(self, gate: asyncio.Semaphore, limits: Limits):
        self.gate, self.limits = gate, limits
        self.waiting: list[_Batch] = []
        self.running: set[asyncio.Task] = set()

    async def submit(self, job: api.CompletionJob) -> dict:
        mine = _Batch(job)
        self.waiting.append(mine)
        try:
            await asyncio.wait_for(self.gate.acquire(), timeout=self.limits.queue_timeout)
        except asyncio.TimeoutError:
            if mine.taken:  # another request's batch is decoding it
                return await mine.future
            self.waiting.remove(mine)
            raise ApiError(503, "the server is busy; try again in a moment") from None
        except asyncio.CancelledError:  # the client went away: nobody needs its endings
            if not mine.taken:
                self.waiting.remove(mine)
            raise
        if mine.taken:
            self.gate.release()
        else:  # a task of its own holds the slot, so a client leaving cannot strand its companions
            task = asyncio.ensure_future(self._decode_and_release(self._take(mine)))
            self.running.add(task)
            task.add_done_callback(self.running.discard)
        return await mine.future

    async def _decode_and_release(self, batch: list[_Batch]) -> None:
        try:
            await self._decode(batch)
        finally:
            self.gate.release()

    def _take(self, mine: _Batch) -> list[_Batch]:
        batch, rows = [mine], mine.job.n
        for other in self.waiting:
            if other is not mine and other.job.key == mine.job.key and rows + other.job.n <= self.limits.batch_drawings:
                batch.append(other)
                rows += other.job.n
        for item in batch:
            item.taken = True
            self.waiting.remove(item)
        return batch

    async def _decode(self, batch: list[_Batch]) -> None:
        try:
            results = await run_in_threadpool(api.run_completions, [item.job for item in batch])
        except Exception as e:
            if len(batch) > 1:  # one job's problem must not fail its companions: decode each alone
                for item in batch:
                    await self._decode([item])
                return
            if not batch[0].future.done():
                batch[0].future.set_exception(e)
            return
        for item, result in zip(batch, results):
            if not item.future.done():
                item.future.set_result(result)


class _Guard:
    """ASGI middleware in front of everything: refuse a foreign Host (DNS rebinding) or Origin (another site's
    page) with a JSON 403 before any route runs, and add the security headers to every response."""

    def __init__(self, app, hosts: frozenset[str], port: int | None):
        self.app, self.hosts, self.port = app, hosts, port

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        problem = self._problem(headers)
        if problem is not None:
            return await _error(403, problem)(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _problem(self, headers: dict[str, str]) -> str | None:
        if not self._ours(headers.get("host", ""), scheme="http"):
            return "this server answers only requests addressed to it (Host header refused)"
        origin = headers.get("origin")
        if origin is not None and not self._ours(origin, scheme=None):
            return "requests from other sites' pages are refused (Origin header)"
        return None

    def _ours(self, value: str, scheme: str | None) -> bool:
        """Whether a Host value ("localhost:8765") or an Origin ("http://localhost:8765") names this server."""
        try:
            parts = urlsplit(value if scheme is None else f"{scheme}://{value}")
            host, port = (parts.hostname or "").lower(), parts.port
        except ValueError:
            return False
        if parts.scheme != "http" or host not in self.hosts or parts.path or parts.query or parts.username:
            return False
        return self.port is None or (port or 80) == self.port


async def _read_body(request: Request, limits: Limits, max_body: int) -> bytes:
    """The body of a JSON POST, refused past `max_body` bytes (told by Content-Length or counted)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":  # also keeps other sites' plain form posts out (they cannot send JSON)
        raise ApiError(415, "send the request as application/json")
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > max_body):
        raise ApiError(413, f"the request body is larger than {max_body:,} bytes")
    body = bytearray()

    async def collect() -> None:
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > max_body:
                raise ApiError(413, f"the request body is larger than {max_body:,} bytes")

    try:  # a client that sends part of a body and stalls would otherwise hold its connection for ever
        await asyncio.wait_for(collect(), timeout=limits.body_timeout)
    except ClientDisconnect:  # the client left: nobody reads the answer, and it is no fault of ours
        raise ApiError(400, "the client disconnected before the request body was complete") from None
    except asyncio.TimeoutError:
        raise ApiError(408, f"the request body did not arrive within {limits.body_timeout:g} s") from None
    return bytes(body)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)
