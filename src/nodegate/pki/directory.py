"""The development PKI on disk: a root CA, an issuing CA with a delegated OCSP signer, a server
certificate for the local edge, client certificates, a revocation database and published CRLs."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from nodegate.pki.authority import (
    NOT_BEFORE_MARGIN,
    CertificateAuthority,
    Issued,
    client_name,
    crl_der,
    name,
    pem,
    utcnow,
)
from nodegate.pki.state import FILE_NAME, ISO_TIME, Check, Each, Maybe, read_state
from nodegate_authorizer.certificates import PARSE_ERRORS

P12_PASSWORD = b"nodegate"
REASONS = {flag.name: flag for flag in x509.ReasonFlags if flag is not x509.ReasonFlags.remove_from_crl}
"""Reasons ``pki revoke`` accepts (RFC 5280 5.3.1: removeFromCRL belongs to delta CRLs, it revokes nothing)."""


def is_base_url(text: str) -> bool:
    """Whether ``text`` is ``http://host[:port]`` with no path: the base of the CRL and OCSP URLs of a PKI."""
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return False
    return (
        parts.scheme == "http"
        and bool(parts.hostname)
        and not (parts.path or parts.query or parts.fragment or "@" in text or "\x00" in text)
    )


SERIAL = re.compile(r"0|[1-9a-f][0-9a-f]{0,39}")
"""A serial as ``db.json`` keys it: lowercase hex without leading zeros, at most 20 octets (RFC 5280 4.1.2.2)."""
CONFIG_SHAPE = {"url": Check("an http://host[:port] base URL", lambda url: isinstance(url, str) and is_base_url(url))}
DB_SHAPE = Each(
    {
        "ca": frozenset({"root", "issuing"}),
        "subject": str,
        "file": FILE_NAME,
        "not_after": Maybe((ISO_TIME, None)),  # older directories did not record it
        "revoked": (None, {"at": ISO_TIME, "reason": frozenset(REASONS)}),
    },
    keys=Check("a hex serial", lambda key: bool(SERIAL.fullmatch(key))),
)
"""``db.json``: every certificate the PKI issued, by hex serial."""


def _revocation(entry: dict[str, Any]) -> tuple[dt.datetime, x509.ReasonFlags]:
    """When and why a database entry was revoked."""
    return dt.datetime.fromisoformat(entry["revoked"]["at"]), x509.ReasonFlags[entry["revoked"]["reason"]]


def _write(path: Path, data: bytes, secret: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if secret:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(path, 0o600)
    else:
        path.write_bytes(data)


def _load(path: Path) -> Issued:
    cert = x509.load_pem_x509_certificate(path.with_suffix(".pem").read_bytes())
    key = serialization.load_pem_private_key(path.with_suffix(".key").read_bytes(), None)
    return Issued(cert, key)  # type: ignore[arg-type]


class PkiError(Exception):
    """A PKI command cannot be carried out; the message says why and what to do."""


ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
"""What the authorizer accepts as a user or node id by default (its ID_PATTERN)."""


@dataclass(frozen=True)
class Listed:
    """One certificate the PKI issued, as ``pki list`` shows it."""

    serial: str
    subject: str
    ca: str
    file: str
    not_after: str | None
    revoked_at: str | None
    reason: str | None


@dataclass
class DevPki:
    """A PKI directory; every command reloads it, so several processes can share it."""

    root: Path

    def __post_init__(self) -> None:
        if not (self.root / "config.json").is_file():
            raise PkiError(f"{self.root} is not a nodegate PKI: create one with `nodegate pki init {self.root}`")

    @property
    def url(self) -> str:
        """Base URL of the CRL/OCSP server that the certificates name."""
        return str(read_state(self.root / "config.json", CONFIG_SHAPE)["url"])

    @property
    def port(self) -> int:
        """The port of the CRL/OCSP server's URL (80 when it names none)."""
        return urlsplit(self.url).port or 80

    def ca(self, which: str) -> CertificateAuthority:
        """``root`` or ``issuing``, with the URLs it embeds in what it issues."""
        issued = _load(self.root / f"{which}-ca")
        ocsp_url = f"{self.url}/ocsp/{which}" if which == "issuing" else None
        return CertificateAuthority(issued.cert, issued.key, crl_url=f"{self.url}/crl/{which}.crl", ocsp_url=ocsp_url)

    def ocsp_signer(self) -> Issued:
        """The issuing CA's delegated OCSP responder."""
        return _load(self.root / "ocsp-signer")

    def _db(self) -> dict[str, dict[str, Any]]:
        """``db.json``; a missing one is an error, never an empty PKI (that would forget every revocation and let
        the next CRL drop them: RFC 5280 3.3)."""
        path = self.root / "db.json"
        if not path.is_file():
            raise PkiError(f"{path} is missing: restore it (it records every certificate and revocation)")
        return dict(read_state(path, DB_SHAPE))

    def _save_db(self, db: dict[str, dict[str, Any]]) -> None:
        tmp = self.root / "db.json.tmp"
        tmp.write_text(json.dumps(db, indent=2, sort_keys=True))
        tmp.replace(self.root / "db.json")

    def issue(
        self,
        user: str,
        node: str,
        *,
        days: int = 365,
        not_before: dt.datetime | None = None,
        ca: str = "issuing",
        force: bool = False,
    ) -> Path:
        """Issue a client certificate; write ``clients/<user>-<node>.{pem,key,p12}`` and record it.

        An existing certificate for the same user and node is replaced only with ``force``, and then its
        serial is revoked (superseded), so the old certificate stops working too."""
        for label, value in (("user", user), ("node", node)):
            if not ID.fullmatch(value):
                raise PkiError(f"{label} {value!r} is not a valid id: letters, digits, '.', '_', '-', at most 64")
        if days < 1:
            raise PkiError(f"days must be at least 1 (got {days})")
        authority = self.ca(ca)
        start = not_before or utcnow() - NOT_BEFORE_MARGIN
        if days > (authority.cert.not_valid_after_utc - start) / dt.timedelta(days=1):  # no date past year 9999
            longest = (authority.cert.not_valid_after_utc - start - dt.timedelta(hours=1)).days  # still true on re-run
            raise PkiError(
                f"--days {days} outlives the {ca} CA (valid until {authority.cert.not_valid_after_utc:%Y-%m-%d}); "
                f"use --days {longest} or less"
            )
        stem = self.root / "clients" / f"{user}-{node}"
        if stem.with_suffix(".pem").exists():
            old = format(x509.load_pem_x509_certificate(stem.with_suffix(".pem").read_bytes()).serial_number, "x")
            if not force:
                raise PkiError(
                    f"{stem.with_suffix('.pem')} exists (serial {old}); --force replaces it and revokes {old}"
                )
            if old in self._db():
                self.revoke(old, "superseded")
        issued = authority.issue(client_name(user, node), days=days, not_before=start)
        _write(stem.with_suffix(".pem"), issued.cert_pem())
        _write(stem.with_suffix(".key"), issued.key_pem(), secret=True)
        chain = [authority.cert] + ([self.ca("root").cert] if ca == "issuing" else [])
        _write(stem.with_suffix(".p12"), issued.pkcs12(chain, P12_PASSWORD), secret=True)
        db = self._db()
        db[format(issued.cert.serial_number, "x")] = {
            "ca": ca,
            "subject": issued.cert.subject.rfc4514_string(),
            "file": str(stem.with_suffix(".pem")),
            "not_after": issued.cert.not_valid_after_utc.isoformat(),
            "revoked": None,
        }
        self._save_db(db)
        return stem.with_suffix(".pem")

    def revoke(self, target: str, reason: str = "key_compromise") -> tuple[str, bool]:
        """Revoke by hex serial or certificate file and re-publish the CRLs. Return (serial, newly recorded):
        revoking again only re-publishes (the first date and reason stay), except that a permanent reason replaces
        certificateHold."""
        path = Path(target)
        if path.is_file():
            try:
                serial = format(x509.load_pem_x509_certificate(path.read_bytes()).serial_number, "x")
            except PARSE_ERRORS as exc:
                raise PkiError(f"{path} is not a PEM certificate: {exc}") from None
        else:
            serial = target.lower().replace(":", "").lstrip("0") or "0"
            if not all(c in "0123456789abcdef" for c in serial):
                raise PkiError(f"{target!r} is neither a certificate file nor a hex serial")
        if reason not in REASONS:
            raise PkiError(f"reason must be one of {', '.join(sorted(REASONS))}")
        db = self.check()
        if serial not in db:
            raise PkiError(f"serial {serial} was not issued by the PKI in {self.root}")
        held = db[serial]["revoked"] and db[serial]["revoked"]["reason"] == "certificate_hold"
        newly = not db[serial]["revoked"] or (held and reason != "certificate_hold")
        if newly:  # a hold made permanent keeps its date (RFC 5280 5.3.1: certificateHold is the reversible one)
            at = db[serial]["revoked"]["at"] if held else utcnow().isoformat()
            db[serial]["revoked"] = {"at": at, "reason": reason}
        # Published before db.json is saved: a failure leaves db.json as it was, and the CRLs never list less
        # than db.json; revoking again publishes them again (completing one whose publication failed).
        self.publish_crls(db=db)
        if newly:
            self._save_db(db)
        return serial, newly

    def listing(self) -> list[Listed]:
        """Every certificate this PKI issued, oldest serial record first."""
        listed = []
        for serial, entry in self._db().items():
            not_after = entry.get("not_after")
            if not_after is None and Path(entry["file"]).is_file():
                try:
                    cert = x509.load_pem_x509_certificate(Path(entry["file"]).read_bytes())
                except PARSE_ERRORS:  # replaced by something else: its expiry is not known
                    cert = None
                if cert is not None and format(cert.serial_number, "x") == serial:
                    not_after = cert.not_valid_after_utc.isoformat()
            revoked = entry["revoked"] or {}
            listed.append(
                Listed(
                    serial,
                    entry["subject"],
                    entry["ca"],
                    entry["file"],
                    not_after,
                    revoked.get("at"),
                    revoked.get("reason"),
                )
            )
        return listed

    def revoked(
        self, ca: str, db: dict[str, dict[str, Any]] | None = None
    ) -> dict[int, tuple[dt.datetime, x509.ReasonFlags]]:
        """Revoked serials of one CA with their revocation times and reasons (from ``db``, else ``db.json``)."""
        return {
            int(serial, 16): _revocation(entry)
            for serial, entry in (self._db() if db is None else db).items()
            if entry["ca"] == ca and entry["revoked"]
        }

    def publish_crls(
        self, next_update: dt.timedelta = dt.timedelta(hours=1), *, db: dict[str, dict[str, Any]] | None = None
    ) -> list[Path]:
        """Write ``crl/<ca>.crl`` (DER) for both CAs, valid for ``next_update``, from ``db`` (else ``db.json``)."""
        written = []
        for which in ("root", "issuing"):
            now, revoked = utcnow(), self.revoked(which, db)
            crl = self.ca(which).crl(
                {serial: when for serial, (when, _) in revoked.items()},
                this_update=now,
                next_update=now + next_update,
                number=int(now.timestamp()),
                reasons={  # RFC 5280 5.3.1: the reason code is left out rather than set to unspecified
                    serial: reason
                    for serial, (_, reason) in revoked.items()
                    if reason is not x509.ReasonFlags.unspecified
                },
            )
            path = self.root / "crl" / f"{which}.crl"
            _write(path, crl_der(crl))
            written.append(path)
        return written

    def crls_due(self, now: dt.datetime) -> bool:
        """Whether a published CRL is missing, unreadable or past half its validity: time to re-sign."""
        for which in ("root", "issuing"):
            try:
                crl = x509.load_der_x509_crl((self.root / "crl" / f"{which}.crl").read_bytes())
            except (OSError, ValueError):
                return True
            if resign_due(crl.last_update_utc, crl.next_update_utc, now):
                return True
        return False

    def crl(self, ca: str) -> bytes | None:
        """Responder interface: the published CRL of ``ca``."""
        path = self.root / "crl" / f"{ca}.crl"
        try:
            return path.read_bytes() if ca in ("root", "issuing") else None
        except OSError:  # missing, a directory, unreadable: not found
            return None

    def check(self) -> dict[str, dict[str, Any]]:
        """Read what every command needs: ``config.json``, ``db.json`` and both CAs (ValueError naming the file
        that is not what nodegate wrote; OSError or PkiError for a missing or unreadable one); return the database."""
        db = self._db()
        for which in ("root", "issuing"):
            self.ca(which)
        self.ocsp_signer()
        return db

    def ocsp(self, ca: str, request: bytes) -> bytes | None:
        """Responder interface: a signed OCSP answer from the database (issuing CA, delegated signer)."""
        if ca != "issuing":
            return None
        try:
            parsed = ocsp.load_der_ocsp_request(request)
        except ValueError:
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        try:
            entry = self._db().get(format(parsed.serial_number, "x"))
            if entry is None or entry["ca"] != ca:
                status, when, reason = ocsp.OCSPCertStatus.UNKNOWN, None, None
            elif entry["revoked"]:
                status, (when, reason) = ocsp.OCSPCertStatus.REVOKED, _revocation(entry)
            else:
                status, when, reason = ocsp.OCSPCertStatus.GOOD, None, None
            response = self.ca(ca).ocsp_response(
                parsed, status, revoked_at=when, reason=reason, responder=self.ocsp_signer()
            )
        except (OSError, PkiError, *PARSE_ERRORS):  # the directory broke while serving (db.json, a key, a CA file):
            return _unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)  # no answer (RFC 6960 2.3), never a guess
        return response.public_bytes(serialization.Encoding.DER)


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    """An OCSP response that carries only an error status (RFC 6960 2.3), DER."""
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)


def resign_due(this_update: dt.datetime, next_update: dt.datetime | None, now: dt.datetime) -> bool:
    """A CRL is re-signed once half of its validity has passed (or it names no nextUpdate)."""
    return next_update is None or now >= this_update + (next_update - this_update) / 2


def server_certificate(ca: CertificateAuthority) -> Issued:
    """A TLS server certificate for localhost and 127.0.0.1, for the local edge."""
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    return ca.issue(
        name(O="nodegate dev PKI", CN="localhost"),
        eku=[ExtendedKeyUsageOID.SERVER_AUTH],
        sans=sans,
        key_usage=None,
        with_crl_url=False,
        with_ocsp_url=False,
        days=825,
    )


def ephemeral_server_files(directory: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and server certificate in ``directory``: (ca.pem, server.pem, server.key)."""
    ca = CertificateAuthority.root("nodegate edge ephemeral CA")
    server = server_certificate(ca)
    _write(directory / "edge-ca.pem", ca.cert_pem())
    _write(directory / "edge-server.pem", server.cert_pem())
    _write(directory / "edge-server.key", server.key_pem(), secret=True)
    return directory / "edge-ca.pem", directory / "edge-server.pem", directory / "edge-server.key"


def check_new_directory(root: Path) -> None:
    """Refuse to create a PKI (CA keys) in the current directory or in one that already holds files."""
    if root.resolve() == Path.cwd().resolve():
        raise PkiError(f"{root} is the current directory: the PKI holds CA keys; name a new directory, e.g. ./pki")
    if (root / "config.json").exists():
        raise PkiError(f"{root} already holds a PKI; use it, or name a new directory for another one")
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise PkiError(f"{root} is not empty (or not a directory); name a new or empty directory for the PKI")


def init_pki(root: Path, url: str) -> DevPki:
    """Create a new PKI in ``root`` whose certificates point at ``url`` for CRLs and OCSP."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps({"url": url}))
    (root / "db.json").write_text("{}")
    root_ca = CertificateAuthority.root("nodegate dev root CA", crl_url=f"{url}/crl/root.crl")
    issuing = root_ca.sub_ca(
        "nodegate dev issuing CA", crl_url=f"{url}/crl/issuing.crl", ocsp_url=f"{url}/ocsp/issuing"
    )
    signer = issuing.ocsp_signer()
    server = server_certificate(root_ca)
    for stem, issued in (("root-ca", root_ca), ("issuing-ca", issuing), ("ocsp-signer", signer), ("server", server)):
        _write(root / f"{stem}.pem", issued.cert_pem())
        _write(root / f"{stem}.key", issued.key_pem(), secret=True)
    _write(root / "truststore.pem", pem(root_ca.cert, issuing.cert))
    pki = DevPki(root)
    pki.publish_crls()
    return pki
