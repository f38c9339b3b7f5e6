"""Read objects named by ``s3://bucket/key`` or ``file:///path`` URIs, with change tags for refreshes."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from .limits import TooLarge, too_large


class BlobError(OSError):
    """The object or listing could not be read; ``transient`` is False when the source answered that it is
    not there (missing object, bucket or version, access denied), True for network and service errors."""

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


class BlobTooLarge(BlobError, TooLarge):
    """The object is larger than the size cap (not transient: reading it again would not help)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


DEFINITIVE_S3_ERRORS = frozenset({"NoSuchKey", "NoSuchBucket", "NoSuchVersion", "AccessDenied", "404", "403"})


def _s3_error(uri: str, exc: Exception) -> BlobError:
    code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code", "")
    return BlobError(f"{uri}: {exc}", transient=code not in DEFINITIVE_S3_ERRORS)


class Blob(NamedTuple):
    """An object's bytes and a tag that changes whenever the object does (ETag+version or mtime+size)."""

    data: bytes
    tag: str


_s3_clients: dict[tuple[float, int, str | None], Any] = {}


def _s3(timeout: float, max_attempts: int = 2) -> Any:
    """A boto3 S3 client, created on first use (boto3 is imported lazily to keep cold starts small).
    Clients are kept per timeout and per endpoint override (``AWS_ENDPOINT_URL_S3``, set for moto locally)."""
    key = (timeout, max_attempts, os.environ.get("AWS_ENDPOINT_URL_S3"))
    if key not in _s3_clients:
        import boto3
        from botocore.config import Config

        config = Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"total_max_attempts": max_attempts, "mode": "standard"},
        )
        _s3_clients[key] = boto3.client("s3", config=config)
    return _s3_clients[key]


def forget_clients() -> None:
    """Drop the S3 clients (their connections and credentials belong to the environment that made them)."""
    _s3_clients.clear()


def _split(uri: str) -> tuple[str, str, str]:
    """(scheme, bucket, key or path); BlobError for a URI no object or file can have (a NUL in a path)."""
    parts = urlsplit(uri)
    if parts.scheme == "s3":
        return "s3", parts.netloc, parts.path.lstrip("/")
    if parts.scheme == "file" and "\x00" not in unquote(parts.path):
        return "file", "", unquote(parts.path)
    raise BlobError(f"unsupported URI {uri!r}", transient=False)


def _file_tag(info: os.stat_result) -> str:
    """A local file's change tag from its inode: ``cp -p`` and ``rsync -t`` keep size and mtime across a new CRL of
    the same size, but every write or ``utime`` moves the change time (S3's tag is its ETag and version)."""
    return f"{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}"


def _read_file(uri: str, path: Path, max_bytes: int) -> Blob:
    """A regular file, read within ``max_bytes``: a FIFO would block and /dev/zero never end."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise BlobError(f"{uri}: not a regular file", transient=False)
    if info.st_size > max_bytes:
        raise BlobTooLarge(too_large(uri, info.st_size, max_bytes))
    with path.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise BlobTooLarge(too_large(uri, len(data), max_bytes))
    return Blob(data, _file_tag(info))


def read_blob(uri: str, *, version: str | None = None, timeout: float = 2.0, max_bytes: int) -> Blob:
    """Read one object (optionally a given S3 version); raise BlobError when it cannot be read or is too big."""
    scheme, bucket, key = _split(uri)
    try:
        if scheme == "file":
            return _read_file(uri, Path(key), max_bytes)
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            args = {"Bucket": bucket, "Key": key} | ({"VersionId": version} if version else {})
            response = _s3(timeout).get_object(**args)
            if response["ContentLength"] > max_bytes:
                raise BlobTooLarge(too_large(uri, response["ContentLength"], max_bytes))
            data = response["Body"].read(max_bytes + 1)
        except (BotoCoreError, ClientError) as exc:
            raise _s3_error(uri, exc) from None
        return Blob(data, f"{response.get('ETag', '')}:{response.get('VersionId', '')}")
    except OSError as exc:
        if isinstance(exc, BlobError):
            raise
        raise BlobError(f"{uri}: {exc}", transient=not isinstance(exc, FileNotFoundError)) from None


def list_blobs(prefix_uri: str, *, timeout: float = 2.0, page_size: int = 1000) -> dict[str, str]:
    """Map every object URI under a prefix to its change tag, following every page of the listing;
    raise BlobError when any page fails (a partial listing is never returned)."""
    scheme, bucket, prefix = _split(prefix_uri)
    if scheme == "file":
        folder = Path(prefix)
        try:
            entries = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
            return {p.as_uri(): _file_tag(p.stat()) for p in entries}
        except OSError as exc:
            raise BlobError(f"{prefix_uri}: {exc}", transient=not isinstance(exc, FileNotFoundError)) from None
    from botocore.exceptions import BotoCoreError, ClientError

    listing: dict[str, str] = {}
    try:
        pages = (
            _s3(timeout)
            .get_paginator("list_objects_v2")
            .paginate(Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size})
        )
        for page in pages:
            for item in page.get("Contents", []):
                if not item["Key"].endswith("/"):
                    listing[f"s3://{bucket}/{item['Key']}"] = item["ETag"]
    except (BotoCoreError, ClientError) as exc:
        raise _s3_error(prefix_uri, exc) from None
    return listing
