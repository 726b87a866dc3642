"""Intercom's regional hosts on loopback: a TLS-intercepting CONNECT proxy in front of the emulator.

Test infrastructure, for tests that must see a client reach ``https://api.intercom.io`` (or the EU or
AU host) without any network. The client is given ``HTTPS_PROXY=proxy.url`` and
``SSL_CERT_FILE=proxy.ca_file`` (see ``client_env``). Then, for each tunnel:

- the client sends ``CONNECT api.eu.intercom.io:443`` to this proxy on 127.0.0.1;
- the proxy refuses (403) any CONNECT that is not to port 443 of one of ``INTERCOM_HOSTS``, and any
  plain proxied request (405), so nothing is ever forwarded anywhere but to the emulator;
- it terminates TLS with a certificate for the requested host, signed by a throwaway CA made for this
  proxy alone, and records the SNI the client sent and the TLS version;
- it forwards each HTTP request inside the tunnel, unchanged (Host header included), as plain HTTP to
  the emulator on loopback, and relays the answer.

Every request is recorded in ``proxy.requests``: the CONNECT host, the SNI, the Host header, method,
path and status. The proxy never resolves or connects to the host a client asks for.

Needs the ``cryptography`` package (for the CA and the host certificates); the rest is the standard
library.

    with InterceptingProxy(upstream=emulator.url, workdir=tmp_path) as proxy:
        subprocess.run(..., env={**os.environ, **proxy.client_env()})
        assert {r.connect_host for r in proxy.requests} == {"api.eu.intercom.io"}
"""
from __future__ import annotations

import datetime
import http.client
import http.server
import ipaddress
import os
import shutil
import socket
import socketserver
import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set, Tuple
from urllib.parse import urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

INTERCOM_HOSTS = ("api.intercom.io", "api.eu.intercom.io", "api.au.intercom.io")

# Hop-by-hop headers (RFC 9110 §7.6.1) are the proxy's own business, never forwarded.
_HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "transfer-encoding", "upgrade",
}


@dataclass(frozen=True)
class Tunnel:
    """One CONNECT the proxy accepted."""

    connect_host: str
    connect_port: int
    sni: Optional[str]
    tls_version: Optional[str]
    error: Optional[str]  # why the TLS handshake failed, if it did


@dataclass(frozen=True)
class ProxiedRequest:
    """One HTTP request received inside a tunnel and forwarded to the emulator."""

    connect_host: str
    sni: Optional[str]
    tls_version: str
    host_header: Optional[str]
    method: str
    path: str
    status: int  # 0 when the emulator closed the connection without answering


@dataclass(frozen=True)
class Refusal:
    """A proxy request that was refused: nothing was forwarded."""

    method: str
    target: str
    status: int


class InterceptingProxy:
    """Stands in for Intercom's regional hosts: CONNECT proxy on 127.0.0.1, TLS terminated, HTTP to ``upstream``."""

    def __init__(
        self,
        upstream: str,
        workdir: Optional[Path] = None,
        allowed_hosts: Iterable[str] = INTERCOM_HOSTS,
    ) -> None:
        parsed = urlparse(upstream)
        if parsed.scheme != "http" or not parsed.hostname or not _is_loopback(parsed.hostname):
            raise ValueError(f"upstream must be a plain http URL on loopback, got {upstream!r}")
        self.upstream: Tuple[str, int] = (parsed.hostname, parsed.port or 80)
        self.allowed_hosts = tuple(allowed_hosts)
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="tls-proxy-"))
        self.ca_file, self._contexts = _make_certificates(self.workdir, self.allowed_hosts)
        self.tunnels: List[Tunnel] = []
        self.requests: List[ProxiedRequest] = []
        self.refused: List[Refusal] = []
        self._lock = threading.Lock()
        self._open: Set[socket.socket] = set()
        self._server: Optional[_ProxyServer] = None
        self._thread: Optional[threading.Thread] = None

    # ---- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> "InterceptingProxy":
        server = _ProxyServer(("127.0.0.1", 0), _ConnectHandler)
        server.proxy = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="tls-proxy-%d" % server.server_address[1], daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "InterceptingProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- what clients need -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start the proxy first"
        return "http://127.0.0.1:%d" % self._server.server_address[1]

    def client_env(self) -> Dict[str, str]:
        """Variables that send an httpx (or curl, requests, urllib) client's HTTPS through this proxy.

        Both spellings are set because lower case wins where both exist. Callers must also remove any
        NO_PROXY/no_proxy, *_proxy and SSL_CERT_DIR variables of their own (see ``scrub_env``).
        """
        return {
            "HTTPS_PROXY": self.url,
            "https_proxy": self.url,
            "SSL_CERT_FILE": str(self.ca_file),
        }

    # ---- recording ---------------------------------------------------------------------------------
    def _note(self, item: object) -> None:
        with self._lock:
            if isinstance(item, Tunnel):
                self.tunnels.append(item)
            elif isinstance(item, ProxiedRequest):
                self.requests.append(item)
            else:
                assert isinstance(item, Refusal)
                self.refused.append(item)

    def _track(self, sock: socket.socket, add: bool) -> None:
        with self._lock:
            (self._open.add if add else self._open.discard)(sock)


def scrub_env(environ: Dict[str, str]) -> Dict[str, str]:
    """A copy of ``environ`` without any proxy variable (NO_PROXY included) or other CA location."""
    dropped = {"ssl_cert_dir", "ssl_cert_file", "requests_ca_bundle", "curl_ca_bundle"}
    return {
        name: value for name, value in environ.items()
        if not name.lower().endswith("_proxy") and name.lower() not in dropped
    }


LOOPBACK_GUARD = '''\
"""Installed by intercom_emulator.tls_proxy for tests: this process may reach loopback only."""
import ipaddress
import socket
import sys

_MARK = "LOOPBACK-GUARD refused"


def _loopback(host):
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host is None or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(what):
    sys.stderr.write("%s %s\\n" % (_MARK, what))
    sys.stderr.flush()


_getaddrinfo = socket.getaddrinfo


def getaddrinfo(host, *args, **kwargs):
    if not _loopback(host):
        _refuse("name lookup of %r" % (host,))
        raise socket.gaierror(socket.EAI_NONAME, "%s a name lookup of %r" % (_MARK, host))
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = getaddrinfo
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _check(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
        _refuse("connection to %r" % (address,))
        raise ConnectionRefusedError("%s a connection to %r" % (_MARK, address))


def connect(self, address):
    _check(self, address)
    return _connect(self, address)


def connect_ex(self, address):
    _check(self, address)
    return _connect_ex(self, address)


socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
'''

LOOPBACK_GUARD_MARK = "LOOPBACK-GUARD refused"


def write_loopback_guard(directory: Path) -> Path:
    """Write a ``sitecustomize.py`` that lets a Python process resolve and connect to loopback only.

    Put ``directory`` on the child's PYTHONPATH. Any other lookup or connection fails at once and
    prints ``LOOPBACK_GUARD_MARK`` on stderr, so a client that ignored the proxy variables cannot send
    even a DNS query off the machine.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "sitecustomize.py"
    path.write_text(LOOPBACK_GUARD, encoding="utf-8")
    return directory


# ---- the server ------------------------------------------------------------------------------------

class _ProxyServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: InterceptingProxy

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up; loopback needs no lookup.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]


class _ConnectHandler(http.server.BaseHTTPRequestHandler):
    """Answers CONNECT for the allowed hosts; refuses everything else."""

    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass

    def _refuse(self, status: int, reason: str) -> None:
        self.server.proxy._note(Refusal(self.command, self.path, status))
        body = (reason + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def do_CONNECT(self) -> None:  # noqa: N802 - http.server's naming
        proxy = self.server.proxy
        host, _, port_text = self.path.rpartition(":")
        host = host.strip("[]").lower()
        if host not in proxy.allowed_hosts or port_text != "443":
            self._refuse(403, f"this test proxy tunnels only to port 443 of {', '.join(proxy.allowed_hosts)}")
            return
        self.send_response(200, "Connection Established")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        _handshake.sni = None
        try:
            tls = proxy._contexts[host].wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            proxy._note(Tunnel(host, 443, _handshake.sni, None, f"{type(exc).__name__}: {exc}"))
            return
        sni = _handshake.sni
        proxy._note(Tunnel(host, 443, sni, tls.version(), None))
        proxy._track(tls, True)
        try:
            _Relay(tls, self.client_address, self.server, host, sni, tls.version() or "")
        except (ssl.SSLError, OSError):
            pass
        finally:
            proxy._track(tls, False)
            try:
                tls.close()
            except OSError:
                pass

    def _not_a_tunnel(self) -> None:
        self._refuse(405, "this test proxy only tunnels (CONNECT); it forwards no plain requests")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _not_a_tunnel  # noqa: N815


class _Relay(http.server.BaseHTTPRequestHandler):
    """The HTTP inside one tunnel: each request goes, as plain HTTP, to the emulator."""

    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def __init__(self, tls: ssl.SSLSocket, client_address: object, server: _ProxyServer,
                 connect_host: str, sni: Optional[str], tls_version: str) -> None:
        self.connect_host, self.sni, self.tls_version = connect_host, sni, tls_version
        self._upstream: Optional[http.client.HTTPConnection] = None
        try:
            super().__init__(tls, client_address, server)  # type: ignore[arg-type]
        finally:
            if self._upstream is not None:
                self._upstream.close()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def _relay(self) -> None:
        body = self._read_body()
        if body is None:
            return
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
        try:
            status, reason, answer_headers, answer = self._forward(headers, body)
        except (OSError, http.client.HTTPException):
            # The emulator hung up without answering (e.g. an injected drop): do the same.
            self._note(0)
            self.close_connection = True
            return
        self._note(status)
        self.send_response_only(status, reason)
        for name, value in answer_headers:
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer)
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _relay  # noqa: N815

    def _note(self, status: int) -> None:
        self.server.proxy._note(ProxiedRequest(
            connect_host=self.connect_host, sni=self.sni, tls_version=self.tls_version,
            host_header=self.headers.get("Host"), method=self.command, path=self.path, status=status,
        ))

    def _read_body(self) -> Optional[bytes]:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline(65537)
                if not size_line:
                    return None
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _forward(self, headers: List[Tuple[str, str]], body: bytes
                 ) -> Tuple[int, str, List[Tuple[str, str]], bytes]:
        for attempt in (1, 2):
            if self._upstream is None:
                self._upstream = http.client.HTTPConnection(*self.server.proxy.upstream, timeout=120)
            conn = self._upstream
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name, value)
                conn.endheaders(body if body or self.command in ("POST", "PUT", "PATCH") else None)
                response = conn.getresponse()
                answer = response.read()
                result = (response.status, response.reason, response.getheaders(), answer)
                if response.will_close:
                    conn.close()
                    self._upstream = None
                return result
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                conn.close()
                self._upstream = None
                # A kept-alive upstream connection the emulator had closed: retry once on a new one,
                # but only for a request that cannot have reached it (nothing was answered).
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


# ---- certificates ----------------------------------------------------------------------------------

# The handshake runs in the tunnel's own thread, and so does the SNI callback.
_handshake = threading.local()


def _remember_sni(ssl_socket: ssl.SSLSocket, server_name: Optional[str], context: ssl.SSLContext) -> None:
    """Runs during the handshake: keep the server name the client asked for."""
    _handshake.sni = server_name


def _make_certificates(workdir: Path, hosts: Iterable[str]) -> Tuple[Path, Dict[str, ssl.SSLContext]]:
    """A throwaway CA (written to ``ca.pem``) and, for each host, a server context with its certificate."""
    workdir.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    not_before, not_after = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=2)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "target-intercom test CA (throwaway)")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = workdir / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))

    contexts: Dict[str, ssl.SSLContext] = {}
    for host in hosts:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                              data_encipherment=False, key_agreement=False, key_cert_sign=False,
                              crl_sign=False, encipher_only=False, decipher_only=False),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                           critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        certfile, keyfile = workdir / f"{host}.pem", workdir / f"{host}.key"
        certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
        os.chmod(keyfile, 0o600)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(certfile), str(keyfile))
        context.sni_callback = _remember_sni  # type: ignore[assignment]
        contexts[host] = context
    return ca_file, contexts


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
