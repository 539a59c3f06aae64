"""HTTPS request handling: routing, auth, faults, JSON errors and streamed CSV pages."""
from __future__ import annotations

import json
import re
import socket
import struct
import zlib
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from .service import PacedWriter, ServiceProfile, pause

DATA = re.compile(r"^/services/data/v(\d+\.\d)(/.*)?$")


class RequestTarget(Protocol):
    """What the server hands each request to (an EmulatorOrg), and how far away it answers."""

    service: ServiceProfile

    def handle(self, h: Handler, method: str, path: str, query: dict[str, str], body: bytes) -> None: ...


class OrgServer(ThreadingHTTPServer):
    """Threading HTTPS server bound to one EmulatorOrg."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], org: RequestTarget) -> None:
        self.org = org
        super().__init__(address, Handler)


class ConnectionDropped(Exception):
    """The handler deliberately reset the connection."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: OrgServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet server
        return

    def setup(self) -> None:
        """Answers leave without Nagle's wait for the client's delayed ACK: a JSON answer's headers and body leave
        in two writes, and with Nagle on every small answer waited ~40 ms (measured 44 ms per `/limits` on a
        reused connection, 1.5 ms without), a delay no real org adds; a far-away service's modelled delays are
        then all that is measured."""
        super().setup()
        service = self.server.org.service
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        if service.conn_bytes_per_s > 0:
            self.wfile = PacedWriter(self.connection, service.conn_bytes_per_s)

    def handle(self) -> None:
        """Serve one connection: a far-away service first pays its set-up round trips (TLS handshake)."""
        service = self.server.org.service
        pause(service.handshake_rtts * service.rtt_ms)
        super().handle()

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        org = self.server.org
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        self.limit_info: str | None = None
        pause(org.service.rtt_ms)  # the request's round trip, paid before the answer
        try:
            org.handle(self, method, url.path, query, body)
        except ConnectionDropped:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # a bug must not kill the connection silently
            self.close_connection = True
            self.send_error_json(500, "UNKNOWN_EXCEPTION", f"{type(exc).__name__}: {exc}")

    def bearer(self) -> str | None:
        auth = self.headers.get("Authorization") or ""
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None

    def send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.limit_info:
            self.send_header("Sforce-Limit-Info", self.limit_info)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self.send(status, json.dumps(payload).encode(), "application/json;charset=UTF-8", headers)

    def send_error_json(self, status: int, code: str, message: str) -> None:
        self.send_json(status, [{"errorCode": code, "message": message}])

    def no_content(self) -> None:
        self.send_response(204)
        if self.limit_info:
            self.send_header("Sforce-Limit-Info", self.limit_info)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def accepts_gzip(self) -> bool:
        return "gzip" in (self.headers.get("Accept-Encoding") or "").lower()

    def stream(self, chunks: Iterable[bytes], headers: dict[str, str], reset_after: int | None = None,
               gzipped: bool | None = None) -> None:
        """Chunked CSV body, optionally reset mid-body. ``gzipped`` None: compress here when the
        client accepts gzip; True/False: ``chunks`` already are (or are not) one gzip stream."""
        compress = self.accepts_gzip() if gzipped is None else False
        self.send_response(200)
        self.send_header("Content-Type", "text/csv; charset=UTF-8")
        self.send_header("Transfer-Encoding", "chunked")
        if compress or gzipped:
            self.send_header("Content-Encoding", "gzip")
        for k, v in headers.items():
            self.send_header(k, v)
        if self.limit_info:
            self.send_header("Sforce-Limit-Info", self.limit_info)
        self.end_headers()
        packer = zlib.compressobj(1, zlib.DEFLATED, 31) if compress else None
        self._pending = b""
        for chunk in chunks:
            data = packer.compress(chunk) if packer else chunk
            if reset_after is not None:
                self._write_chunk(data[:max(1, len(data) // 2)])
                self._flush_pending()
                self.reset()
            self._write_chunk(data)
        if packer:
            self._write_chunk(packer.flush())
        self._pending += b"0\r\n\r\n"
        self._flush_pending()

    def _write_chunk(self, data: bytes | memoryview) -> None:
        """Send one HTTP chunk: its size line goes out with the previous chunk's CRLF, and large
        payloads are sent from a memoryview (no concatenated copy, no tiny TLS records)."""
        size = len(data)
        if not size:
            return
        head = self._pending + b"%x\r\n" % size
        if size <= 65536:
            self._pending = head + bytes(data) + b"\r\n"
            if len(self._pending) >= 65536:
                self._flush_pending()
            return
        view = memoryview(data).cast("B")
        self.wfile.write(head + view[:65536].tobytes())
        self.wfile.write(view[65536:])
        self._pending = b"\r\n"

    def _flush_pending(self) -> None:
        if self._pending:
            self.wfile.write(self._pending)
            self._pending = b""

    def reset(self) -> None:
        """Abort the connection with a TCP RST (injected fault)."""
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        raise ConnectionDropped()
