"""A tiny web server on 127.0.0.1, in a thread of its own, serving pages the tests set."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class PageServer:
    """Pages by path: (body, content type). ``hits`` counts requests per path.

    ``fallback`` makes a page for a path not in ``pages`` (None: 404). With ``validators``
    on, every page carries an ETag (its body's hash) and a fixed Last-Modified, and a request
    whose If-None-Match matches gets 304; ``not_modified`` counts those per path. ``delay``
    makes every answer wait (a slow site).
    """

    pages: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    port: int = 0
    fallback: Callable[[str], tuple[bytes, str] | None] | None = None
    validators: bool = False
    not_modified: dict[str, int] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering any request (a slow site)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.hits[path] = self.hits.get(path, 0) + 1
        if self.delay:
            await asyncio.sleep(self.delay)
        page = self.pages.get(path) or (self.fallback(path) if self.fallback else None)
        if page is None:
            raise web.HTTPNotFound()
        body, content_type = page
        if content_type == "redirect":
            raise web.HTTPFound(body.decode())
        if content_type.isdigit():
            return web.Response(status=int(content_type), body=body)
        headers = {"Content-Type": content_type}
        if self.validators:
            tag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            headers |= {"ETag": tag, "Last-Modified": "Wed, 02 Dec 2026 10:00:00 GMT"}
            if request.headers.get("If-None-Match") == tag:
                self.not_modified[path] = self.not_modified.get(path, 0) + 1
                return web.Response(status=304, headers={"ETag": tag})
        return web.Response(body=body, headers=headers)


@contextmanager
def serve_pages() -> Iterator[PageServer]:
    """Run a PageServer on 127.0.0.1 until the block ends."""
    server = PageServer()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner: web.AppRunner | None = None

    async def start() -> None:
        nonlocal runner
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", server._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()))
    thread.start()
    assert ready.wait(10), "the page server did not start"
    try:
        yield server
    finally:
        assert runner is not None
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
