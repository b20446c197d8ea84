"""The SMTP catcher receives what smtplib sends, keeps envelope and bytes, and can refuse on request."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest
from responer_cli.devstack.smtp import SmtpCatcher


def _mail(subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "agent@demo.responer.test"
    msg["To"] = "klient@example.pl"
    msg["Subject"] = subject
    msg.set_content("Dziękujemy za wiadomość — odpowiemy wkrótce.")
    return msg


def test_catches_envelope_and_raw_bytes(tmp_path):
    with SmtpCatcher(directory=tmp_path / "caught") as catcher:
        assert catcher.port > 0
        with smtplib.SMTP(catcher.host, catcher.port, timeout=5) as s:
            s.login("any", "thing")
            s.send_message(_mail("Re: Zwrot [#104233]"), to_addrs=["klient@example.pl", "cc@example.pl"])
        (caught,) = catcher.wait_for(1, timeout=5)
    assert caught.mail_from == "agent@demo.responer.test"
    assert caught.rcpt_tos == ("klient@example.pl", "cc@example.pl")
    assert caught.message()["Subject"] == "Re: Zwrot [#104233]"
    assert "Dziękujemy" in caught.message().get_content()
    files = list((tmp_path / "caught").glob("*.eml"))
    assert len(files) == 1 and files[0].read_bytes() == caught.data


def test_scripted_failures_then_success(smtp_catcher):
    smtp_catcher.clear()
    smtp_catcher.fail_next("451 4.3.0 Try again later")
    smtp_catcher.fail_next("550 5.1.1 No such user", times=1)
    with smtplib.SMTP(smtp_catcher.host, smtp_catcher.port, timeout=5) as s:
        with pytest.raises(smtplib.SMTPDataError) as temp:
            s.send_message(_mail("one"))
        assert temp.value.smtp_code == 451
        with pytest.raises(smtplib.SMTPDataError) as perm:
            s.send_message(_mail("two"))
        assert perm.value.smtp_code == 550
        s.send_message(_mail("three"))
    assert [m.message()["Subject"] for m in smtp_catcher.wait_for(1)] == ["three"]


def test_wait_for_times_out(tmp_path):
    with SmtpCatcher() as catcher, pytest.raises(TimeoutError):
        catcher.wait_for(1, timeout=0.2)
