"""HTTP plumbing: a keep-alive threaded server and the pipeline every API request goes through.

Pipeline: latency -> auth -> rate limit -> API version -> injected fault -> endpoint -> post-processing faults.
Admin requests under /_emulator/ skip all of it.
"""
from __future__ import annotations

import email.utils
import hmac
import json
import random
import selectors
import socket
import socketserver
import sys
import threading
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Set, Tuple
from urllib.parse import parse_qsl

from .core import Core
from .errors import FAULT_ERRORS, ApiError, error_body, new_request_id
from .faults import DELAY, DROP, FAIL, MALFORMED, Fault
from .reqlog import RequestRecord
from .routes import ApiRequest, match
from .versions import normalize_version

ADMIN_PREFIX = "/_emulator"
JSON_TYPE = "application/json; charset=utf-8"
_REASONS = {s.value: s.phrase for s in HTTPStatus}
_HTML_PAGE = ("<!DOCTYPE html>\n<html><head><title>{0} {1}</title></head>"
              "<body><h1>{0} {1}</h1><p>The server could not complete your request.</p></body></html>\n")

AdminHandler = Callable[[str, str, str, bytes], Tuple[int, Any]]


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


class _Reply:
    __slots__ = ("status", "body", "content_type", "headers", "drop", "delay_after", "fault")

    def __init__(self, status: int, body: bytes, headers: Optional[Dict[str, str]] = None,
                 content_type: Optional[str] = JSON_TYPE) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers if headers is not None else {}
        self.drop = False
        self.delay_after = 0.0
        self.fault: Optional[str] = None


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Threads are joined by our own bookkeeping in close_connections(), with a timeout.
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: Tuple[str, int], core: Core, admin: AdminHandler) -> None:
        self.core = core
        self.admin = admin
        self.closing = False
        self.connections_accepted = 0
        self._conns: Set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._idle = threading.Condition(self._conns_lock)
        # serve() sleeps in select() on the listening socket and this pair; stop_serving() writes to wake it.
        self._wake_r, self._wake_w = socket.socketpair()
        self._serving = True
        super().__init__(address, RequestHandler)

    def serve(self) -> None:
        """Accept connections until stop_serving(); unlike serve_forever() it wakes at once, no polling."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while self._serving:
                for key, _ in selector.select():
                    if key.fileobj is self.socket and self._serving:
                        self.handle_request()

    def stop_serving(self) -> None:
        self._serving = False
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def server_close(self) -> None:
        super().server_close()
        self._wake_r.close()
        self._wake_w.close()

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (a DNS lookup that can take seconds); we don't need it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def track(self, sock: socket.socket) -> bool:
        with self._conns_lock:
            if self.closing:
                return False
            self.connections_accepted += 1
            self._conns.add(sock)
            return True

    def untrack(self, sock: socket.socket) -> None:
        with self._conns_lock:
            self._conns.discard(sock)
            self._idle.notify_all()

    def close_connections(self, timeout: float = 3.0) -> None:
        """Wake every handler thread (idle keep-alive ones included) and wait for them to end."""
        with self._conns_lock:
            self.closing = True
            conns = list(self._conns)
        for sock in conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        with self._conns_lock:
            while self._conns and time.monotonic() < deadline:
                self._idle.wait(max(0.0, deadline - time.monotonic()))


def _authorized(header: Optional[str], token: str) -> bool:
    if not header:
        return False
    scheme, _, value = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def _error(status: int, code: str, message: Optional[str], request_id: str,
           headers: Optional[Dict[str, str]] = None, field: Optional[str] = None) -> _Reply:
    return _Reply(status, _dumps(error_body(code, message, request_id, field)), headers)


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "intercom-emulator"
    sys_version = ""
    # Idle keep-alive connections are closed after this many seconds.
    timeout = 120
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        # Responses go out in one write; without TCP_NODELAY small ones can wait for a delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._tracked = self.server.track(self.connection)
        if not self._tracked:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self._tracked:
                self.server.untrack(self.connection)

    def handle_one_request(self) -> None:
        # Thread CPU time excludes the idle wait for the next request, so this is the cost of one request.
        self._handled = False
        t0 = time.thread_time()
        super().handle_one_request()
        if self._handled:
            self.server.core.log.add_cpu(time.thread_time() - t0)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # http.server's own access log is replaced by the one-line log of _api (verbose only)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    # ---- request plumbing ------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: List[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, reply: _Reply) -> None:
        lines = ["HTTP/1.1 %d %s" % (reply.status, _REASONS.get(reply.status, "Unknown"))]
        if reply.content_type and reply.body:
            lines.append("Content-Type: " + reply.content_type)
        lines.append("Content-Length: %d" % len(reply.body))
        for name, value in reply.headers.items():
            lines.append("%s: %s" % (name, value))
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head + reply.body)
        except OSError:
            self.close_connection = True

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _dispatch(self) -> None:
        started = time.time()
        path, _, qs = self.path.partition("?")
        try:
            raw_body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self._send(_Reply(400, _dumps({"error": "unreadable request body"})))
            return
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            status, obj = self.server.admin(self.command, path, qs, raw_body)
            self._send(_Reply(status, _dumps(obj)))
            return
        # Only API requests count toward the server's CPU per request.
        self._handled = True
        self._api(path, qs, raw_body, started)

    # ---- the API pipeline ------------------------------------------------------------------------
    def _api(self, path: str, qs: str, raw_body: bytes, started: float) -> None:
        core = self.server.core
        settings = core.settings
        method = self.command
        request_id = new_request_id()
        route, params = match(method, path)
        body: Any = None
        body_error = False
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body_error = True
        record = RequestRecord(method, path, route.endpoint if route else "%s (unmatched)" % method,
                               dict(parse_qsl(qs, keep_blank_values=True)), self.headers.get("Intercom-Version"),
                               self.headers.get("Host"), body, started, request_id)

        delay = settings.latency
        if settings.jitter:
            delay += random.uniform(-settings.jitter, settings.jitter)
        if delay > 0:
            core.stopping.wait(delay)

        reply = self._answer(core, route, params, record, body, body_error)
        if reply.delay_after > 0:
            core.stopping.wait(reply.delay_after)
        record.fault = reply.fault
        record.status = 0 if reply.drop else reply.status
        record.duration = time.time() - started
        # Logged before the answer leaves, so a client that got its answer always finds the record.
        core.log.add(record)
        if reply.drop:
            self._drop()
        else:
            self._send(reply)
        if settings.verbose:
            sys.stderr.write("%s %-6s %s -> %s %.1fms%s\n" % (
                time.strftime("%H:%M:%S"), method, path, record.status or "dropped", record.duration * 1000,
                " [%s]" % reply.fault if reply.fault else ""))
            sys.stderr.flush()

    def _answer(self, core: Core, route: Any, params: Dict[str, str], record: RequestRecord, body: Any,
                body_error: bool) -> _Reply:
        settings = core.settings
        request_id = record.request_id
        if not _authorized(self.headers.get("Authorization"), settings.token):
            # Intercom sends no rate-limit headers to requests without valid credentials.
            return _error(401, "unauthorized", "Access Token Invalid", request_id)
        allowed, limit, remaining, reset = core.limiter.acquire(settings.recorded_rate_limit_headers)
        headers = {"Date": email.utils.formatdate(core.clock(), usegmt=True),
                   "X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining),
                   "X-RateLimit-Reset": str(reset), "X-Request-Id": request_id}
        if not allowed:
            return _error(429, "rate_limit_exceeded", "Exceeded rate limit of %d in 10_seconds" % limit,
                          request_id, headers)
        version = settings.default_version if record.version is None else normalize_version(record.version)
        if version is None:
            return _error(400, "intercom_version_invalid", "The requested version could not be found",
                          request_id, headers)

        fault = core.faults.take(record.method, record.path)
        if fault is not None and fault.kind == FAIL:
            return self._injected_failure(fault, limit, request_id, headers)
        if fault is not None and not fault.after_processing:
            if fault.kind == DROP:
                reply = _Reply(0, b"")
                reply.drop, reply.fault = True, "drop"
                return reply
            if fault.kind == DELAY:
                core.stopping.wait(fault.seconds)

        if route is None:
            reply = _error(404, "not_found", "Resource Not Found", request_id, headers)
        else:
            host = self.headers.get("Host") or "%s:%d" % (self.server.server_name, self.server.server_port)
            req = ApiRequest(record.method, record.path, params, record.query, body, body_error, version,
                             "http://" + host, arrived=record.time)
            try:
                status, obj = route.handler(core, req)
                # A handler answers bytes as they are: b"" for Intercom's empty bodies (202 of POST /events).
                reply = _Reply(status, obj if isinstance(obj, bytes) else _dumps(obj), headers)
            except ApiError as exc:
                headers.update(exc.headers)
                reply = _error(exc.status, exc.code, exc.message, request_id, headers, exc.field)
            except Exception:  # a bug in the emulator: answer like a server error instead of hanging up
                traceback.print_exc()
                reply = _error(500, "server_error", "Internal Server Error (emulator bug)", request_id, headers)
        core.faults.note_response(record.method, record.path, reply.status)

        if fault is not None:
            reply.fault = fault.kind
            if fault.kind == MALFORMED:
                reply.body = _break_json(reply.body, fault.malformed)
            elif fault.after_processing and fault.kind == DROP:
                reply.drop = True
            elif fault.after_processing and fault.kind == DELAY:
                reply.delay_after = fault.seconds
        return reply

    def _injected_failure(self, fault: Fault, limit: int, request_id: str, headers: Dict[str, str]) -> _Reply:
        status = fault.status
        if status == 401:
            headers = {}
        if fault.retry_after is not None:
            ra = fault.retry_after
            headers["Retry-After"] = str(int(ra)) if float(ra).is_integer() else str(ra)
        if fault.body == "html":
            reply = _Reply(status, _HTML_PAGE.format(status, _REASONS.get(status, "Error")).encode(), headers,
                           "text/html; charset=utf-8")
        elif fault.body == "empty":
            reply = _Reply(status, b"", headers)
        else:
            code, message = FAULT_ERRORS.get(status, ("server_error", _REASONS.get(status, "Error")))
            if status == 429:
                message = "Exceeded rate limit of %d in 10_seconds" % limit
            # A test may name the error, e.g. 403 api_plan_restricted "Active subscription needed." (2.16 docs).
            reply = _error(status, fault.code or code, fault.message if fault.message is not None else message,
                           request_id, headers)
        reply.fault = "fail"
        return reply


def _break_json(body: bytes, kind: str) -> bytes:
    if kind == "garbage":
        return b'{"type":"contact","id":\x00\xfe<html>upstream garbage'
    return body[: max(1, len(body) // 2)]
