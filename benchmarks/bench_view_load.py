"""The view under load: N concurrent page loads of ``serving-view`` on loopback.

    python benchmarks/bench_view_load.py                 # 50 concurrent sessions
    python benchmarks/bench_view_load.py --sessions 10

Starts ``serving-view --port 0`` on 127.0.0.1 in a subprocess and reads the port from the URL
line it prints.  One session is timed alone first (the warm-up: imports, catalog, first grid),
then ``--sessions`` sessions start at once, and one more session starts ``--probe-after``
seconds into that burst (a user arriving during it).

A session is what a browser does to show the page, without the browser:

1. ``GET /``: Bokeh's server creates the session here (it runs :func:`model.app.view.create_app`)
   and answers with an HTML page that holds the session's token, not the document;
2. the websocket ``/ws`` opened with that token (subprotocols ``bokeh``, token), Bokeh's
   ``ACK`` awaited, ``PULL-DOC-REQ`` sent, and the ``PULL-DOC-REPLY`` received: the serialized
   document, every model of the page, which BokehJS then renders.

A session's page-load time is from the GET's start to the last frame of that reply.  The frames
are counted, not parsed (parsing 50 documents in Python would load the same two cores as the
server).  The static JS/CSS bundles are not fetched: a browser caches them and they cost the
server no Python.  Everything is on 127.0.0.1, the number of requests is bounded
(1 + sessions + 1), every request has a timeout, and the server is stopped (SIGINT) at the end.

Prints p50 / p95 / max of the burst's page loads, the warm-up and the probe, in seconds; the
target is p95 <= 5 s for 50 sessions.  Exit 1 if a session fails.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import subprocess
import sys
import time

import numpy as np
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

TARGET_P95_S = 5.0
TOKEN = re.compile(r'"token":"([^"]+)"')


async def read_message(ws) -> tuple[dict, int]:
    """One Bokeh protocol message: its header (parsed) and the number of frames it took."""
    header = await ws.read_message()
    if header is None:
        raise ConnectionError("websocket closed")
    head = json.loads(header)
    frames = 3 + 2 * int(head.get("num_buffers", 0))  # header, metadata, content, (buffer header, payload)*
    for _ in range(frames - 1):
        if await ws.read_message() is None:
            raise ConnectionError("websocket closed in a message")
    return head, frames


async def session(port: int, timeout: float) -> dict:
    """One page load: GET the page, open its websocket, pull its document. Times in seconds."""
    start = time.perf_counter()
    page = await AsyncHTTPClient().fetch(HTTPRequest(f"http://127.0.0.1:{port}/", request_timeout=timeout,
                                                     connect_timeout=timeout))
    html_s = time.perf_counter() - start
    found = TOKEN.search(page.body.decode())
    if found is None:
        raise ValueError("no session token in the page")
    request = HTTPRequest(f"ws://127.0.0.1:{port}/ws", headers={"Origin": f"http://127.0.0.1:{port}"},
                          request_timeout=timeout, connect_timeout=timeout)
    ws = await websocket_connect(request, subprotocols=["bokeh", found.group(1)], max_message_size=1 << 30)
    try:
        head, _ = await asyncio.wait_for(read_message(ws), timeout)
        if head["msgtype"] != "ACK":
            raise ValueError(f"expected ACK, got {head['msgtype']}")
        for frame in (json.dumps({"msgid": "1", "msgtype": "PULL-DOC-REQ"}), "{}", "{}"):
            await ws.write_message(frame)
        head, _ = await asyncio.wait_for(read_message(ws), timeout)
        if head["msgtype"] != "PULL-DOC-REPLY":
            raise ValueError(f"expected PULL-DOC-REPLY, got {head['msgtype']}: {head}")
    finally:
        ws.close()
    return {"html_s": html_s, "load_s": time.perf_counter() - start}


async def burst(port: int, n: int, probe_after: float, timeout: float) -> tuple[dict, list, dict]:
    """The warm-up session, then ``n`` at once and one more ``probe_after`` seconds later."""
    AsyncHTTPClient.configure(None, max_clients=n + 2)
    warm = await session(port, timeout)
    tasks = [asyncio.ensure_future(session(port, timeout)) for _ in range(n)]
    await asyncio.sleep(probe_after)
    probe = asyncio.ensure_future(session(port, timeout))
    results = await asyncio.gather(*tasks, return_exceptions=True)
    return warm, results, await probe


def start_server(timeout: float) -> tuple[subprocess.Popen, int]:
    """``serving-view --port 0`` on 127.0.0.1; the process and the port its URL line names."""
    process = subprocess.Popen([sys.executable, "-m", "model.app.view.server", "--port", "0",
                                "--address", "127.0.0.1"], stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline().strip()
    found = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/", line)
    if found is None:
        process.kill()
        raise RuntimeError(f"serving-view printed {line!r}")
    return process, int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=50, help="concurrent sessions (1-200, default 50)")
    p.add_argument("--probe-after", type=float, default=1.0, help="seconds into the burst to start the probe")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per request")
    args = p.parse_args(argv)
    if not 1 <= args.sessions <= 200:
        p.error(f"--sessions {args.sessions}: allowed 1-200")
    process, port = start_server(args.timeout)
    try:
        t0 = time.perf_counter()
        warm, results, probe = asyncio.run(burst(port, args.sessions, args.probe_after, args.timeout))
        wall = time.perf_counter() - t0 - warm["load_s"]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    failed = [r for r in results if isinstance(r, BaseException)]
    loads = np.array([r["load_s"] for r in results if not isinstance(r, BaseException)])
    html = np.array([r["html_s"] for r in results if not isinstance(r, BaseException)])
    print(f"warm-up session alone: {warm['load_s']:.2f} s (HTML {warm['html_s']:.2f} s)")
    if loads.size:
        print(f"{loads.size} of {args.sessions} concurrent sessions, page load (HTML + document): "
              f"p50 {np.percentile(loads, 50):.2f} s, p95 {np.percentile(loads, 95):.2f} s, "
              f"max {loads.max():.2f} s; HTML alone p50 {np.percentile(html, 50):.2f} s, "
              f"p95 {np.percentile(html, 95):.2f} s; burst wall time {wall:.1f} s")
    print(f"a session started {args.probe_after:g} s into the burst: {probe['load_s']:.2f} s "
          f"(HTML {probe['html_s']:.2f} s)")
    for err in failed[:5]:
        print(f"failed: {type(err).__name__}: {err}", file=sys.stderr)
    if failed:
        return 1
    p95 = float(np.percentile(loads, 95))
    print(f"target p95 <= {TARGET_P95_S:g} s: {'met' if p95 <= TARGET_P95_S else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
