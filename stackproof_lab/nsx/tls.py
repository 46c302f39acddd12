"""The lab NSX manager's certificates, made the way the lab vCenter makes its own (vcenter/tlscert.go).

A CA of its own (ECDSA P-256, five years) signs a server certificate for localhost, 127.0.0.1, ::1 and the address
the manager listens on (the controller's management address in the lab). The CA
certificate is what a client verifies the manager with (the target's ``nsx.ca_bundle``, the lab Neutron
driver's ``ca_file``); the CA key is never written: a new pair is made when the certificate nears its end.
A restarted manager reuses a certificate that is still valid for a while and names its address, so clients keep
trusting it.
Runs on the lab venv's Python (``cryptography`` comes with the OpenStack services).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

CA_FILE, CERT_FILE, KEY_FILE = "nsx-ca.pem", "nsx-cert.pem", "nsx-key.pem"
VALIDITY = datetime.timedelta(days=5 * 365)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
LOOPBACK = ipaddress.ip_address("127.0.0.1")
RENEW_BEFORE = datetime.timedelta(days=30)


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _still_valid(cert_file: Path, ca_file: Path, addresses: tuple[IPAddress, ...]) -> bool:
    from cryptography import x509

    if not (cert_file.exists() and ca_file.exists()):
        return False
    try:
        leaf = x509.load_pem_x509_certificate(cert_file.read_bytes())
    except ValueError:
        return False
    try:
        named = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return (set(addresses) <= set(named.get_values_for_type(x509.IPAddress))
            and leaf.not_valid_after_utc - datetime.datetime.now(datetime.UTC) > RENEW_BEFORE)


def ensure(directory: Path, address: IPAddress = LOOPBACK, *also: IPAddress) -> tuple[Path, Path, Path]:
    """(CA, certificate, key) files in ``directory``, made when missing, about to expire or not naming
    ``address`` and the ``also`` addresses (where the server is published, when that is another address)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = directory / CA_FILE, directory / CERT_FILE, directory / KEY_FILE
    if _still_valid(cert_file, ca_file, (address, *also)) and key_file.exists():
        return ca_file, cert_file, key_file
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)  # tolerate a little clock skew
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stackproof lab NSX manager CA"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "stackproof lab")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    addresses = dict.fromkeys([LOOPBACK, ipaddress.ip_address("::1"), address, *also])
    names = [x509.DNSName("localhost"), *(x509.IPAddress(a) for a in addresses)]
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
                                 x509.NameAttribute(NameOID.ORGANIZATION_NAME, "stackproof lab")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    # The key first, private to the user running the lab; the CA key is never written.
    _write(key_file, key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), 0o600)
    _write(cert_file, leaf.public_bytes(pem), 0o644)
    _write(ca_file, ca_cert.public_bytes(pem), 0o644)
    return ca_file, cert_file, key_file
