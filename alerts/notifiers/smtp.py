"""SMTP plumbing for the e-mail receiver: its settings (parsed and checked from the receiver's YAML) and
one function that sends a message and turns every failure into a ``DeliveryError``.

Submission is STARTTLS on port 587 by default, with certificate verification against the system's CAs
(or ``ca_file``); ``verify: false`` exists for test servers with self-signed certificates. A login is
refused without STARTTLS: a password never crosses the network in clear.

Retryable: network errors, timeouts, a dropped connection and 4xx replies (greylisting, a full queue).
Permanent: 5xx replies (a bad login, a refused sender or recipient), a server without STARTTLS or AUTH,
an untrusted certificate. Reasons carry reply codes and a short reply excerpt with the password scrubbed,
never the password or the message.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from pydantic import SecretStr

from alerts.notification import DeliveryError
from alerts.notifiers.http import redact
from core.errors import InputError

DEFAULT_PORT = 587
EXCERPT = 120


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str  # the From address
    to: tuple[str, ...]
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    verify: bool = True
    ca_file: str | None = None
    timeout: float = 10.0

    def __repr__(self) -> str:
        return f"SmtpSettings(host={self.host!r}, port={self.port}, to={list(self.to)!r})"


def _address(value: Any, where: str) -> str:
    text = str(value).strip()
    _, addr = parseaddr(text)
    if "@" not in addr or any(c in text for c in "\r\n"):
        raise InputError(where, f"{text!r} is not an e-mail address")
    return text


def _flag(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InputError(where, "must be true or false")


def smtp_settings(options: Mapping[str, Any], where: str) -> SmtpSettings:
    """Check an ``email`` receiver's options; every error names the option and the reason."""
    unknown = set(options) - {
        "host",
        "port",
        "from",
        "to",
        "username",
        "password",
        "starttls",
        "verify",
        "ca_file",
        "timeout_seconds",
    }
    if unknown:
        raise InputError(where, f"unknown keys: {', '.join(sorted(unknown))}")
    try:
        port = int(options.get("port", DEFAULT_PORT))
    except (TypeError, ValueError):
        raise InputError(f"{where}.port", "must be a port number") from None
    if not 0 < port < 65536:
        raise InputError(f"{where}.port", "must be between 1 and 65535")
    raw_to = options["to"]
    recipients = [raw_to] if isinstance(raw_to, str) else raw_to
    if not isinstance(recipients, list) or not recipients:
        raise InputError(f"{where}.to", "must be an address or a non-empty list of addresses")
    to = tuple(_address(r, f"{where}.to[{i}]") for i, r in enumerate(recipients))
    try:
        timeout = float(options.get("timeout_seconds", 10.0))
    except (TypeError, ValueError):
        raise InputError(f"{where}.timeout_seconds", "must be a number of seconds") from None
    if timeout <= 0:
        raise InputError(f"{where}.timeout_seconds", "must be positive")
    starttls = _flag(options.get("starttls", True), f"{where}.starttls")
    username = str(options["username"]) if options.get("username") else None
    password = options.get("password")
    if username is not None and password is None:
        raise InputError(f"{where}.password", "is required with a username (or password_env)")
    if username is not None and not starttls:
        raise InputError(f"{where}.starttls", "must be true to log in: a password is never sent in clear")
    return SmtpSettings(
        host=str(options["host"]),
        port=port,
        sender=_address(options["from"], f"{where}.from"),
        to=to,
        username=username,
        password=password if isinstance(password, SecretStr) else None,
        starttls=starttls,
        verify=_flag(options.get("verify", True), f"{where}.verify"),
        ca_file=str(options["ca_file"]) if options.get("ca_file") else None,
        timeout=timeout,
    )


def _tls_context(s: SmtpSettings) -> ssl.SSLContext:
    if not s.verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        return ssl.create_default_context(cafile=s.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise DeliveryError(f"email: ca_file unusable ({type(exc).__name__})", retryable=False) from None


def _reply(exc: smtplib.SMTPResponseException, secrets: list[str]) -> str:
    raw = (
        exc.smtp_error.decode("utf-8", "replace")
        if isinstance(exc.smtp_error, bytes)
        else str(exc.smtp_error)
    )
    excerpt = redact(raw[:EXCERPT], secrets).replace("\n", " ").replace("\r", " ").strip()
    return f"SMTP {exc.smtp_code}" + (f": {excerpt}" if excerpt else "")


def send_mail(s: SmtpSettings, message: EmailMessage) -> None:
    """Submit ``message`` to its recipients; return on acceptance, raise ``DeliveryError`` otherwise."""
    password = s.password.get_secret_value() if s.password is not None else ""
    secrets = [password] if password else []
    context = _tls_context(s) if s.starttls else None
    try:
        with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as smtp:
            smtp.ehlo()
            if context is not None:
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.username is not None:
                smtp.login(s.username, password)
            # Some recipients refused and others not: the message is out, and a retry would send it twice
            # to the ones that took it. The refusals stay visible in the logs of the caller.
            smtp.send_message(
                message, from_addr=parseaddr(s.sender)[1], to_addrs=[parseaddr(t)[1] for t in s.to]
            )
    except smtplib.SMTPRecipientsRefused as exc:
        codes = sorted({code for code, _ in exc.recipients.values()})
        retryable = all(400 <= c < 500 for c in codes)
        raise DeliveryError(
            f"email: recipients refused (SMTP {', '.join(map(str, codes))})", retryable=retryable
        ) from None
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"email: login refused ({_reply(exc, secrets)})", retryable=False) from None
    except smtplib.SMTPResponseException as exc:
        retryable = 400 <= exc.smtp_code < 500
        raise DeliveryError(f"email: {_reply(exc, secrets)}", retryable=retryable) from None
    except smtplib.SMTPNotSupportedError:
        # smtplib says this when the server offers no STARTTLS or no AUTH: a configuration matter.
        raise DeliveryError("email: the server does not offer STARTTLS or AUTH", retryable=False) from None
    except smtplib.SMTPServerDisconnected:
        raise DeliveryError("email: connection closed by the server", retryable=True) from None
    except ssl.SSLCertVerificationError:
        raise DeliveryError(
            "email: the server's certificate is not trusted (set ca_file)", retryable=False
        ) from None
    except (smtplib.SMTPException, OSError) as exc:  # refused, unreachable, timed out, TLS broken
        raise DeliveryError(f"email: network error ({type(exc).__name__})", retryable=True) from None
