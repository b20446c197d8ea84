"""SMTP transport (smtplib, called from the consumer's worker thread).

Failures are sorted into temporary (4xx, connection problems, timeouts) and permanent (5xx).
Once DATA is accepted the message counts as sent: a failing QUIT afterwards is ignored, because
treating it as a failure would send the mail a second time.
"""

from __future__ import annotations

import smtplib
import ssl

from responer_outbox.domain.delivery import PermanentFailure, SmtpRoute, TemporaryFailure


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _reason(code: int, message: bytes | str) -> str:
    return f"{code} {_text(message)}".strip()


class SmtpTransport:
    def __init__(self, timeout_s: float = 20.0, local_hostname: str | None = None) -> None:
        self.timeout_s = timeout_s
        self.local_hostname = local_hostname

    def send(self, route: SmtpRoute, sender: str, recipients: list[str], data: bytes) -> dict[str, str]:
        smtp: smtplib.SMTP | None = None
        try:
            if route.tls_mode == "tls":
                smtp = smtplib.SMTP_SSL(
                    route.host,
                    route.port,
                    local_hostname=self.local_hostname,
                    timeout=self.timeout_s,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(
                    route.host, route.port, local_hostname=self.local_hostname, timeout=self.timeout_s
                )
                if route.tls_mode == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
            refused = smtp.sendmail(sender, recipients, data)
        except smtplib.SMTPRecipientsRefused as exc:
            reasons = {rcpt: _reason(code, msg) for rcpt, (code, msg) in exc.recipients.items()}
            detail = "; ".join(f"{rcpt}: {reason}" for rcpt, reason in reasons.items())
            if all(code >= 500 for code, _ in exc.recipients.values()):
                raise PermanentFailure(f"all recipients refused: {detail}") from exc
            raise TemporaryFailure(f"recipients refused: {detail}") from exc
        except smtplib.SMTPResponseException as exc:
            reason = _reason(exc.smtp_code, exc.smtp_error)
            if exc.smtp_code >= 500:
                raise PermanentFailure(reason) from exc
            raise TemporaryFailure(reason) from exc
        except smtplib.SMTPNotSupportedError as exc:  # e.g. STARTTLS configured but not offered
            raise PermanentFailure(f"{route.host}:{route.port}: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:  # disconnects, refused connections, timeouts
            raise TemporaryFailure(f"{route.host}:{route.port}: {exc!r}") from exc
        finally:
            if smtp is not None:
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError):
                    smtp.close()
        return {rcpt: _reason(code, msg) for rcpt, (code, msg) in refused.items()}
