"""The devstack's dovecot: plaintext login, APPEND with APPENDUID, fetch without setting \\Seen."""

from __future__ import annotations

import imapclient.exceptions
import pytest

RAW = (
    "From: Zofia Żółtowska <zofia@example.pl>\r\n"
    "To: support@demo.responer.test\r\n"
    "Subject: =?utf-8?q?Zam=C3=B3wienie_123?=\r\n"
    "Message-ID: <probe-1@example.pl>\r\n"
    "\r\n"
    "Dzień dobry\r\n"
).encode()


def test_append_then_fetch_returns_the_same_bytes(imap_account):
    uid = imap_account.append(RAW)
    second = imap_account.append(RAW.replace(b"probe-1", b"probe-2"))
    assert second == uid + 1
    with imap_account.client() as c:
        c.select_folder("INBOX")
        data = c.fetch([uid], ["BODY.PEEK[]", "FLAGS"])
    assert data[uid][b"BODY[]"] == RAW
    assert b"\\Seen" not in data[uid][b"FLAGS"]


def test_append_to_another_folder_creates_it(imap_account):
    uid = imap_account.append(RAW, folder="Archive")
    assert uid >= 1
    assert imap_account.server.count(imap_account.user, imap_account.password, "Archive") == 1
    assert imap_account.server.count(imap_account.user, imap_account.password, "INBOX") == 0


def test_wrong_password_is_refused(imap_account):
    with pytest.raises(imapclient.exceptions.LoginError):
        imap_account.server.client(imap_account.user, "wrong")


def test_users_are_isolated(dovecot, imap_account):
    imap_account.append(RAW)
    dovecot.add_user("other@imap.responer.test", "secret")
    assert dovecot.count("other@imap.responer.test", "secret") == 0
