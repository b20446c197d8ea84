"""TLS and STARTTLS for real: dovecot with a certificate from a private CA. Ingest syncs over
implicit TLS and STARTTLS when it trusts the CA (RESPONER_IMAP_CA_FILE), and the connection test says
`tls` when it does not."""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
import uuid

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from responer.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from responer_cli.devstack.dovecot import Dovecot, DovecotMissing
from responer_cli.devstack.net import free_port
from responer_ingest.adapters.imap_connect import probe
from responer_ingest.application import Login
from responer_ingest.testing import ingest_settings, make_mail, running_ingest, wait_for

pytestmark = pytest.mark.integration


def make_ca_and_cert(directory) -> tuple:  # noqa: ANN001
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Responer Test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_file, cert_file, key_file


class TlsDovecot(Dovecot):
    """The devstack's dovecot with a certificate: STARTTLS on the imap port, implicit TLS on imaps."""

    def __init__(self, state_dir, cert_file, key_file) -> None:  # noqa: ANN001
        super().__init__(state_dir)
        self.cert_file, self.key_file = cert_file, key_file
        self.imaps_port = free_port()

    def _write_config(self) -> None:
        super()._write_config()
        text = self.config_file.read_text()
        text = text.replace(
            "ssl = no\n", f"ssl = yes\nssl_cert = <{self.cert_file}\nssl_key = <{self.key_file}\n"
        )
        text = text.replace(
            "  inet_listener imaps {\n    port = 0\n  }",
            f"  inet_listener imaps {{\n    address = {self.host}\n    port = {self.imaps_port}\n  }}",
        )
        self.config_file.write_text(text)


@pytest.fixture
def tls_imap(responer_state_dir):
    root = responer_state_dir / f"tls-{secrets.token_hex(3)}"
    ca_file, cert_file, key_file = make_ca_and_cert(root / "pki")
    server = TlsDovecot(root, cert_file, key_file)
    try:
        server.start()
    except DovecotMissing as exc:
        pytest.skip(str(exc))
    user, password = f"t{secrets.token_hex(4)}@imap.responer.test", secrets.token_urlsafe(10)
    server.add_user(user, password)
    yield server, ca_file, user, password
    server.stop()


def request(tenant: str, server, user: str, password: str, tls_mode: str, port: int, address: str):  # noqa: ANN001, ANN201
    return ingest_pb2.RegisterMailboxRequest(
        tenant_id=tenant,
        name=address,
        address=address,
        imap_host="127.0.0.1",
        imap_port=port,
        tls_mode=tls_mode,
        username=user,
        password=password,
    )


def test_an_untrusted_certificate_fails_at_the_tls_step(tls_imap):
    server, _, user, password = tls_imap
    for mode, port in (("tls", server.imaps_port), ("starttls", server.port)):
        result = probe("127.0.0.1", port, mode, ["INBOX"], Login("password", user, password), None, 10)
        assert (result.ok, result.stage) == (False, "tls"), result
        assert "CERTIFICATE_VERIFY_FAILED" in result.reason or "certificate verify failed" in result.reason


async def test_mail_syncs_over_tls_and_starttls_with_the_private_ca(
    tls_imap, private_database, nats_url, fresh_namespace
):
    server, ca_file, user, password = tls_imap
    server.append(user, password, make_mail(1))
    settings = ingest_settings(private_database, nats_url, fresh_namespace, imap_ca_file=str(ca_file))
    tenant = str(uuid.uuid4())
    async with running_ingest(settings) as service:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.grpc_port}") as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)
            for mode, port, address in (
                ("tls", server.imaps_port, "tls@shop.test"),
                ("starttls", server.port, "starttls@shop.test"),
            ):
                spec = request(tenant, server, user, password, mode, port, address)
                tested = await stub.TestConnection(
                    ingest_pb2.TestConnectionRequest(tenant_id=tenant, spec=spec)
                )
                assert tested.ok, tested.reason
                view = await stub.RegisterMailbox(spec)
                await wait_for(
                    lambda v=view: service.app.mailbox(v.mailbox_id).position("INBOX", _uv(service, v)) == 1
                )


def _uv(service, view) -> int:  # noqa: ANN001
    return service.app.mailbox(view.mailbox_id).positions.get("INBOX", (0, 0))[0]
