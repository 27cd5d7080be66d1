"""A real SMTP server for the e-mail tests: aiosmtpd on a local port, STARTTLS with a self-signed
certificate made here (``cryptography``), AUTH LOGIN/PLAIN required and only over TLS, recording every
accepted message with whether it came over TLS and logged in. It can be stopped and started again on the
same port, to play an outage."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.helpers import free_port

USER = "spendsentry"
PASSWORD = "smtp-pa55word-for-tests-xyz"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1, and its key: (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage
    tls: bool
    login: str | None


@dataclass
class Mailbox:
    port: int
    cert: Path
    key: Path
    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)  # (user, accepted)
    lock: threading.Lock = field(default_factory=threading.Lock)
    controller: Controller | None = None

    # -- aiosmtpd hooks -------------------------------------------------------------------------------

    async def handle_DATA(
        self, server: Any, session: Any, envelope: Any
    ) -> str:  # aiosmtpd calls it by this name
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        with self.lock:
            self.received.append(
                Received(
                    sender=envelope.mail_from,
                    recipients=list(envelope.rcpt_tos),
                    message=message,  # type: ignore[arg-type]
                    tls=session.ssl is not None,
                    login=session.auth_data.login.decode() if session.authenticated else None,
                )
            )
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == USER
            and auth_data.password.decode() == PASSWORD
        )
        with self.lock:
            self.logins.append(
                (auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "?", ok)
            )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    # -- control ----------------------------------------------------------------------------------------

    def start(self) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        self.controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context,
            require_starttls=True,
            authenticator=self.authenticate,
            auth_required=True,
            auth_require_tls=True,
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def subjects(self) -> list[str]:
        with self.lock:
            return [str(r.message["Subject"]) for r in self.received]


@contextmanager
def running_mailbox(folder: Path) -> Iterator[Mailbox]:
    cert, key = self_signed(folder)
    box = Mailbox(port=free_port(), cert=cert, key=key)
    box.start()
    try:
        yield box
    finally:
        box.stop()
