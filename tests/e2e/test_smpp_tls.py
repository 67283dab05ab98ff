"""SMPP over TLS (`smpp.tls_listen`): an ESME binds through a TLS connection checked against
the server's certificate; the same port refuses a plain connection."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path

from smsc.settings import SmppAccount
from smsc.smpp.codec import decode, encode
from smsc.smpp.framing import PduFramer
from smsc.smpp.pdu import BindTransceiver, BindTransceiverResp, EnquireLink, EnquireLinkResp, Pdu
from tests.e2e.conftest import Starter, free_port

ACCOUNT = SmppAccount(system_id="tlsbank", password="s3cret", allowed_sources=("*",))


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made by the openssl command."""
    openssl = shutil.which("openssl")
    assert openssl is not None, "the openssl command is needed (Debian: openssl)"
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: Pdu, sequence: int
) -> Pdu:
    writer.write(encode(request, sequence_number=sequence))
    framer = PduFramer()
    while True:
        data = await asyncio.wait_for(reader.read(4096), 10)
        assert data, "the server closed the connection"
        pdus = framer.feed(data)
        if pdus:
            return decode(pdus[0])


async def test_an_esme_binds_over_tls_and_a_plain_connection_is_refused(
    start_smsc: Starter, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    app = await start_smsc(
        smpp={
            "tls_listen": (f"127.0.0.1:{port}",),
            "tls_cert_file": str(cert),
            "tls_key_file": str(key),
            "accounts": (ACCOUNT,),
        }
    )
    assert app.smpp is not None and app.smpp.addresses == [("127.0.0.1", port)]
    context = ssl.create_default_context(cafile=str(cert))
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    try:
        answer = await exchange(reader, writer, BindTransceiver("tlsbank", "s3cret"), 1)
        assert isinstance(answer, BindTransceiverResp)
        assert (answer.command_status, answer.sequence_number) == (0, 1)
        answer = await exchange(reader, writer, EnquireLink(), 2)
        assert isinstance(answer, EnquireLinkResp)
        assert [s["state"] for s in app.smpp.sessions()] == ["bound_trx"]
    finally:
        writer.close()
    plain_reader, plain_writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        plain_writer.write(encode(BindTransceiver("tlsbank", "s3cret"), sequence_number=1))
        data = await asyncio.wait_for(plain_reader.read(4096), 10)
        assert data[:1] in (b"", b"\x15")  # closed, or a TLS alert record: never a bind_resp
        assert not app.smpp.sessions() or all(s["state"] == "open" for s in app.smpp.sessions())
    finally:
        plain_writer.close()
