"""A loopback HTTP file server that misbehaves on request, for the download fault-injection tests.

``server.files[path] = bytes`` serves a file at ``/path`` (with ``Range`` support); ``server.faults[path]`` is a
list of faults applied to the next GETs of that path, one per request, in order:

* ``"reset"``: announce the full Content-Length, send half the body, then abort the TCP connection (RST);
* ``"truncate"``: announce the full Content-Length, send half the body, then close cleanly;
* ``"500"`` / ``"503"``: answer that status;
* ``"slow"``: send the headers, then stall for ``server.stall`` seconds before the body;
* ``"trickle"``: send the body in 8 slices with ``server.trickle`` seconds between them (overlapping downloads);
* ``"norange"``: ignore the Range header and send the whole file with 200;
* ``"wrong"``: send other bytes of the same length.

``server.log`` records ``(method, path, range header, status)`` for each request.
"""
from __future__ import annotations

import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Tuple


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        owner = self.server.owner
        path = self.path.split("?")[0].lstrip("/")
        rng = self.headers.get("Range")
        with owner.lock:
            data = owner.files.get(path)
            queue = owner.faults.get(path) or []
            fault = queue.pop(0) if queue else None
        if data is None:
            owner.log.append(("GET", path, rng, 404))
            self._plain(404, b"not found")
            return
        if fault in ("500", "503"):
            owner.log.append(("GET", path, rng, int(fault)))
            self._plain(int(fault), b"server error")
            return
        body, status, start = data, 200, 0
        if rng and fault != "norange":
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                owner.log.append(("GET", path, rng, 416))
                self._plain(416, b"range not satisfiable", {"Content-Range": f"bytes */{len(data)}"})
                return
            body, status = data[start:], 206
        if fault == "wrong":
            body = bytes((b ^ 0x5A) for b in body)
        owner.log.append(("GET", path, rng, status))
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if fault in ("reset", "truncate"):
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            if fault == "reset":  # SO_LINGER 0: close sends RST instead of FIN
                time.sleep(0.2)  # let the client read what was sent (an RST drops unread received data)
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if fault == "slow":
            self.wfile.flush()
            time.sleep(owner.stall)
        if fault == "trickle":
            step = max(1, len(body) // 8)
            for i in range(0, len(body), step):
                self.wfile.write(body[i:i + step])
                self.wfile.flush()
                time.sleep(owner.trickle)
            return
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. after its timeout)
            pass

    def _plain(self, status: int, body: bytes, headers: Optional[Dict[str, str]] = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: "FaultServer"


class FaultServer:
    """``with FaultServer() as s: s.files["a.bin"] = data; s.faults["a.bin"] = ["reset"]; url = s.url("a.bin")``."""

    def __init__(self) -> None:
        self.files: Dict[str, bytes] = {}
        self.faults: Dict[str, List[str]] = {}
        self.log: List[Tuple[str, str, Optional[str], int]] = []
        self.lock = threading.Lock()
        self.stall = 2.0
        self.trickle = 0.05
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{path}"

    def gets(self, path: str) -> List[Tuple[Optional[str], int]]:
        return [(r, s) for m, p, r, s in self.log if p == path]

    def __enter__(self) -> "FaultServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
