"""HTTPS request handling: routing, auth, faults, JSON errors and streamed CSV pages."""
from __future__ import annotations

import json
import re
import socket
import struct
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Iterable
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from .org import EmulatorOrg

DATA = re.compile(r"^/services/data/v(\d+\.\d)(/.*)?$")


class OrgServer(ThreadingHTTPServer):
    """Threading HTTPS server bound to one EmulatorOrg."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], org: "EmulatorOrg") -> None:
        self.org = org
        super().__init__(address, Handler)


class ConnectionDropped(Exception):
    """The handler deliberately reset the connection."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: OrgServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet server
        return

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

    def stream(self, chunks: Iterable[bytes], headers: dict[str, str], reset_after: int | None = None) -> None:
        """Chunked CSV body, gzip-compressed when accepted; optionally reset the socket mid-body."""
        gzip = "gzip" in (self.headers.get("Accept-Encoding") or "").lower()
        self.send_response(200)
        self.send_header("Content-Type", "text/csv; charset=UTF-8")
        self.send_header("Transfer-Encoding", "chunked")
        if gzip:
            self.send_header("Content-Encoding", "gzip")
        for k, v in headers.items():
            self.send_header(k, v)
        if self.limit_info:
            self.send_header("Sforce-Limit-Info", self.limit_info)
        self.end_headers()
        packer = zlib.compressobj(1, zlib.DEFLATED, 31) if gzip else None
        for chunk in chunks:
            data = packer.compress(chunk) if packer else chunk
            if reset_after is not None:
                self._write_chunk(data[:max(1, len(data) // 2)])
                self.reset()
            self._write_chunk(data)
        if packer:
            self._write_chunk(packer.flush())
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")

    def reset(self) -> None:
        """Abort the connection with a TCP RST (injected fault)."""
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        raise ConnectionDropped()
