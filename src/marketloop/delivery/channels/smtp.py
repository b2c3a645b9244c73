"""SMTP e-mail through the standard library's smtplib (one connection, reused, reopened on failure)."""

from __future__ import annotations

import datetime as dt
import smtplib
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from marketloop.delivery.channels.base import DeliveryError, OutboundMessage, Receipt


class SmtpOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "localhost"
    port: int = Field(25, gt=0, lt=65536)
    sender: str = "MarketLoop <no-reply@localhost>"
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = Field(10.0, gt=0)
    message_id_domain: str = "marketloop.invalid"


#: Lines up to RFC 5322's hard limit of 998 characters: a header holding one long token (the signed
#: List-Unsubscribe URL) must stay one line; the default 78 would rewrite it as RFC 2047 encoded-words,
#: which mail clients do not read as a link.
MAIL_POLICY = policy.default.clone(max_line_length=998)


def message_id(key: str, domain: str) -> str:
    """The Message-ID carrying the send's idempotency key: a resend after a crash has the same id, so
    the receiving side can drop the duplicate."""
    return f"<{key}@{domain}>"


class SmtpChannel:
    name: ClassVar[str] = "smtp"
    batch: ClassVar[bool] = False
    needs_address: ClassVar[bool] = True

    def __init__(self, options: SmtpOptions) -> None:
        self.options = options
        self._conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        if self._conn is None:
            o = self.options
            try:
                conn = smtplib.SMTP(o.host, o.port, timeout=o.timeout)
                if o.starttls:
                    conn.starttls()
                if o.username:
                    conn.login(o.username, o.password or "")
            except (OSError, smtplib.SMTPException) as exc:
                raise DeliveryError(
                    f"SMTP server {o.host}:{o.port} unreachable: {exc}",
                    transient=True,
                    hint="Check the SMTP host/port and that the server is up.",
                ) from exc
            self._conn = conn
        return self._conn

    def deliver(self, message: OutboundMessage, now: dt.datetime) -> Receipt:
        if not message.to or "@" not in message.to:
            raise DeliveryError(f"customer {message.customer_id} has no e-mail address", transient=False)
        mail = EmailMessage(policy=MAIL_POLICY)
        mail["From"] = self.options.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Message-ID"] = message_id(message.idempotency_key, self.options.message_id_domain)
        mail["Date"] = format_datetime(now.replace(tzinfo=dt.UTC))
        mail["X-MarketLoop-Campaign"] = message.campaign_id
        mail["X-MarketLoop-Send"] = message.send_id
        if message.unsubscribe_url:  # RFC 2369 link plus RFC 8058 one-click: the mail client POSTs to it
            mail["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mail.set_content(message.body)
        conn = self._connect()
        try:
            try:
                refused = conn.send_message(mail)
            except smtplib.SMTPServerDisconnected:  # an idle connection the server closed: reopen once
                self._drop()
                refused = self._connect().send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc.recipients}", transient=False) from exc
        except smtplib.SMTPResponseException as exc:
            self._drop()
            raise DeliveryError(
                f"SMTP error {exc.smtp_code}: {exc.smtp_error!r}", transient=exc.smtp_code < 500
            ) from exc
        except (TimeoutError, OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise DeliveryError(f"SMTP connection failed: {exc}", transient=True) from exc
        if refused:
            raise DeliveryError(f"recipient refused: {refused}", transient=False)
        return Receipt(provider_id=mail["Message-ID"])

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._drop()
