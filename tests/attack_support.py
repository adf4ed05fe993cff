"""Shared pieces of the attack suite (``tests/test_attack_*.py``).

An attack test plays both sides on loopback: a *vendor* the spec trusts and an *attacker* origin
the vendor's response (or a hostile variable) tries to steer credentials to. Both are real HTTP
servers, TLS where it matters, so the attack goes through the real code path (httpx, sockets),
and the attacker records every byte it receives so a test can prove a planted secret never
arrived, in any encoding.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import re
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Seen:
    """One request an origin received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def raw(self) -> bytes:
        head = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
        return f"{self.method} {self.path}\n{head}\n\n".encode("latin-1", "replace") + self.body


#: A responder gets the request and the origin's own URL; returns (status, headers, body).
Responder = Callable[[Seen, str], tuple[int, dict[str, str], bytes]]


def _default_responder(seen: Seen, origin: str) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json"}, b"{}"


@dataclass
class Origin:
    """A live loopback HTTP(S) server that records what it receives."""

    url: str
    requests: list[Seen] = field(default_factory=list)
    cert_path: Path | None = None

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def received(self) -> bytes:
        return b"\n---\n".join(r.raw() for r in self.requests)


def encodings(secret: str) -> list[bytes]:
    """The forms a secret could leak in: plain, percent/form-encoded, base64 (also inside
    a Basic credential with any user name prefix, which base64 alone would not reveal)."""
    forms = {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        base64.b64encode(secret.encode()).decode(),
        base64.urlsafe_b64encode(secret.encode()).decode(),
    }
    return sorted(f.encode() for f in forms)


def assert_never_received(origin: Origin, *secrets: str) -> None:
    """No planted secret reached ``origin`` in any encoding (Basic credentials decoded too)."""
    raw = origin.received()
    decoded = [raw]
    for seen in origin.requests:
        auth = seen.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            with suppress(ValueError):
                decoded.append(base64.b64decode(auth.split(" ", 1)[1]))
    for secret in secrets:
        for form in encodings(secret):
            for blob in decoded:
                assert form not in blob, f"the secret reached {origin.url} (as {form!r})"


def self_signed_cert(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A throwaway certificate for ``host`` (an IP address or a DNS name) and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "patchbay-attack-suite")])
    now = datetime.datetime.now(datetime.UTC)
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{host}.pem", folder / f"{host}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextmanager
def origin(
    responder: Responder = _default_responder,
    *,
    tls_folder: Path | None = None,
    host: str = "127.0.0.1",
) -> Iterator[Origin]:
    """Serve ``responder`` on a free loopback port (HTTPS when ``tls_folder`` is given)."""
    record = Origin(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, the body waits for the
        # client's delayed ACK (~40 ms a request on a kept-alive connection).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            return

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen = Seen(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
            record.requests.append(seen)
            status, headers, payload = responder(seen, record.url)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    scheme = "http"
    if tls_folder is not None:
        cert, key = self_signed_cert(tls_folder, host)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        record.cert_path = cert
        scheme = "https"
    record.url = f"{scheme}://{host}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def leak_forms(secret: str) -> list[str]:
    """Encoded forms a hostile vendor may echo a secret in: percent-encoded (upper- and
    lower-case hex, ``quote`` and ``quote_plus``, twice), base64 (standard, URL-safe, unpadded)
    and base64 of a Basic pair with a user name in front of the secret."""
    raw = secret.encode()
    quoted = urllib.parse.quote(secret, safe="")
    b64 = base64.b64encode(raw).decode()
    forms = {
        secret,
        quoted,
        _lower_hex(quoted),
        urllib.parse.quote(secret),
        urllib.parse.quote_plus(secret),
        urllib.parse.quote(quoted, safe=""),
        b64,
        b64.rstrip("="),
        base64.urlsafe_b64encode(raw).decode(),
        base64.b64encode(b"someone:" + raw).decode(),
        base64.b64encode(b"x:" + raw).decode(),
    }
    return sorted(forms)


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), text)


def assert_not_in_text(text: str, *secrets: str) -> None:
    """No planted secret in ``text`` in any form: as is, after percent- or form-decoding (once
    or twice), after JSON ``\\/`` unescaping, or inside any run of base64 characters, decoded
    at every alignment (which finds it inside ``base64(user:secret)`` too)."""
    views = {
        text,
        text.replace("\\/", "/"),
        urllib.parse.unquote(text),
        urllib.parse.unquote(urllib.parse.unquote(text)),
        urllib.parse.unquote_plus(text),
    }
    for run in re.findall(r"[A-Za-z0-9+/_-]{6,}={0,2}", text):
        for start in range(4):
            chunk = run[start:].rstrip("=")
            chunk = chunk[: len(chunk) - len(chunk) % 4 if len(chunk) % 4 == 1 else len(chunk)]
            padded = chunk + "=" * (-len(chunk) % 4)
            for alt in (b"+/", b"-_"):
                with suppress(ValueError):
                    views.add(base64.b64decode(padded, altchars=alt).decode("latin-1"))
    for secret in secrets:
        for view in views:
            assert secret not in view, f"the secret is in the text: {text[:300]!r}"
