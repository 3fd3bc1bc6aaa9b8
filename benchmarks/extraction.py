"""Extraction quality through the real fetch path.

Serves the saved pages of ../shared/data/html/article-extraction-benchmark on 127.0.0.1,
adds each by URL through citebot's own fetcher, extractor and cleaner (the embedder is the
hash embedder: embedding plays no part in extraction), and compares the stored text with the
ground truth by token precision, recall and F1 (multisets of lower-cased words).

Usage: python benchmarks/extraction.py [BENCHMARK_DIR]
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from aiohttp import web

from index.embedding import HashEmbedder
from index.errors import CitebotError
from index.fetch import Fetcher
from index.service import Service

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared/data/html/article-extraction-benchmark"


def tokens(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", text.lower()))


def scores(predicted: str, gold: str) -> tuple[float, float, float]:
    p, g = tokens(predicted), tokens(gold)
    if not p or not g:
        return 0.0, 0.0, 0.0
    common = sum((p & g).values())
    precision, recall = common / sum(p.values()), common / sum(g.values())
    f1 = 2 * precision * recall / (precision + recall) if common else 0.0
    return precision, recall, f1


def serve(pages: dict[str, bytes]) -> tuple[int, asyncio.AbstractEventLoop]:
    """Serve the pages from a thread of their own; returns the port."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port = 0

    async def page(request: web.Request) -> web.Response:
        body = pages.get(request.match_info["id"])
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type="text/html")

    async def start() -> None:
        nonlocal port
        app = web.Application()
        app.router.add_get("/{id}", page)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    ready.wait(10)
    return port, loop


def main() -> None:
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    if not directory.is_dir():
        sys.exit(f"no benchmark at {directory}")
    truth = json.loads((directory / "ground-truth.json").read_text())
    pages = {
        key: gzip.decompress((directory / "html" / f"{key}.html.gz").read_bytes()) for key in truth
    }
    port, _ = serve(pages)
    started = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        service = Service(Path(tmp), HashEmbedder(), fetcher=Fetcher(allow_private=True))
        for number, (key, gold) in enumerate(truth.items()):
            scope = f"page{number}"
            try:
                result = service.add_url(scope, f"http://127.0.0.1:{port}/{key}")
                text = service.get_article(scope, result.article_id).text
                problem = ""
            except CitebotError as error:
                text, problem = "", str(error)
            rows.append((key, gold["url"], *scores(text, gold["articleBody"]), problem))
        service.close()
    elapsed = time.perf_counter() - started
    mean = [statistics.mean(r[i] for r in rows) for i in (2, 3, 4)]
    print(f"{len(rows)} pages fetched from 127.0.0.1 in {elapsed:.1f} s")
    print(f"token precision {mean[0]:.3f}  recall {mean[1]:.3f}  F1 {mean[2]:.3f}")
    print(f"refused: {sum(1 for r in rows if r[5])}")
    print("worst ten (F1, precision, recall, page):")
    for key, url, p, r, f, problem in sorted(rows, key=lambda row: row[4])[:10]:
        print(f"  {f:.3f}  {p:.3f}  {r:.3f}  {key[:12]}  {url[:70]}  {problem[:80]}")


if __name__ == "__main__":
    main()
