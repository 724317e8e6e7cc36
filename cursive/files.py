"""Files kept through Django's storage API (uploads, drafts, enrichment files and results, backups), read as
streams, so a web or worker node never needs another node's disk.

`StoredFile` names a file in a storage and opens it for reading front to back. On S3-compatible storage it
reads the object's body as it arrives: django-storages' own S3File first downloads the whole object into a
spooled temporary file, which for a 200 MB upload read three times (format check, line count, rows) would
mean three full copies.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO

from django.core.files.storage import Storage

# Bytes read from S3 per request to the socket: large enough that the csv reader is not waiting on many small reads.
_S3_BUFFER_BYTES = 1 << 20


def _is_s3(storage: Storage) -> bool:
    # Imported late: boto3 is needed only where an S3 bucket is configured.
    try:
        from storages.backends.s3 import S3Storage
    except ImportError:
        return False
    return isinstance(storage, S3Storage)


def _s3_stream(storage, name: str) -> BinaryIO:
    from botocore.exceptions import ClientError
    from storages.utils import clean_name

    # The key as django-storages writes it (the bucket's location prefix included).
    key = storage._normalize_name(clean_name(name))
    try:
        body = storage.bucket.Object(key).get()["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            raise FileNotFoundError(name) from exc
        raise
    return io.BufferedReader(body, buffer_size=_S3_BUFFER_BYTES)


@dataclass(frozen=True)
class StoredFile:
    """A file in a Django storage; `open("rb")` gives a new binary stream each time (as Path.open does), so
    code that reads a file in several passes takes either."""

    storage: Storage
    name: str

    @classmethod
    def of(cls, field_file) -> StoredFile:
        return cls(field_file.storage, field_file.name)

    def open(self, mode: str = "rb") -> BinaryIO:
        if mode != "rb":
            raise ValueError("Stored files are opened for reading only ('rb'); write them with storage.save.")
        if _is_s3(self.storage):
            return _s3_stream(self.storage, self.name)
        return self.storage.open(self.name, "rb")

    def size(self) -> int:
        return self.storage.size(self.name)

    def exists(self) -> bool:
        return self.storage.exists(self.name)
