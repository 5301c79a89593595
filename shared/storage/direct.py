"""Blob operations for direct uploads (the valet key): a write-only SAS for one blob, and reading
what arrived without holding it in memory: its size and ETag, ranges of it, or all of it into a file.

Every read after the first look is pinned to the ETag seen then, so a client still holding its SAS
cannot swap the blob between the check and the conversion: the read fails instead (Conflict).
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO

from shared.storage.errors import errors_translated

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient, BlobServiceClient, ContainerClient, UserDelegationKey

    from shared.storage.connection import StorageConnection

# A user delegation key may live 7 days; one is asked for per process and renewed well before
# the SAS it signs could outlive it.
_DELEGATION_KEY_LIFETIME = timedelta(days=1)
# Clocks differ: a SAS that starts a little before now is valid at once on the service.
_CLOCK_SKEW = timedelta(minutes=5)
_RANGE_BUFFER_BYTES = 256 * 1024


@dataclass(frozen=True)
class CommittedBlob:
    size: int
    etag: str
    copied: bool  # written by Copy Blob from some other blob, not by the client's own blocks
    readable: bool  # not moved to the archive tier (where no read succeeds until rehydrated)


class DirectUploadBlobs:
    """Mixed into Storage, which provides the clients."""

    _connection: StorageConnection
    _lock: threading.Lock
    _delegation_key: tuple[UserDelegationKey, datetime] | None = None

    def _blobs(self) -> BlobServiceClient:
        raise NotImplementedError

    def _container(self, name: str) -> ContainerClient:
        raise NotImplementedError

    def _blob(self, container: str, name: str) -> BlobClient:
        return self._container(container).get_blob_client(name)

    def blob_origin(self) -> str:
        """The blob endpoint's origin (scheme://host[:port]), where clients send direct uploads."""
        from urllib.parse import urlsplit

        parts = urlsplit(self._blobs().url)
        return f"{parts.scheme}://{parts.netloc}"

    def upload_sas_url(self, container: str, name: str, expires: datetime) -> str:
        """The blob's URL with a SAS that lets its holder write that one blob (Put Block and Put
        Block List), and nothing else (no read, list, delete or tags), until `expires`. Write alone
        is the narrowest permission that uploads blocks; Azure lets it lease, snapshot and copy
        into the blob too, which the app makes harmless (Storage.delete_blob breaks leases and
        takes snapshots with it; a submit refuses a copied blob). Signed with the account key when
        the connection has one (Azurite), else with a user delegation key from the app's identity."""
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        blob = self._blob(container, name)
        permission = BlobSasPermissions(write=True)
        start = datetime.now(UTC) - _CLOCK_SKEW
        signing: dict[str, Any]
        if self._connection.uses_identity:
            signing = {"user_delegation_key": self._user_delegation_key(expires)}
        else:
            credential = self._blobs().credential
            signing = {"account_key": credential.account_key}
        sas = generate_blob_sas(
            # The service client's name: a blob client reached through a container client of a
            # path-style URL (Azurite's, https://host:port/account) takes the container for part of it.
            self._blobs().account_name or "",
            container,
            name,
            permission=permission,
            start=start,
            expiry=expires,
            protocol="https" if blob.url.startswith("https:") else "https,http",
            **signing,
        )
        return f"{blob.url}?{sas}"

    def _user_delegation_key(self, needed_until: datetime) -> UserDelegationKey:
        with self._lock:
            cached = self._delegation_key
            if cached is not None and cached[1] > needed_until + _CLOCK_SKEW:
                return cached[0]
        now = datetime.now(UTC)
        expires = max(now + _DELEGATION_KEY_LIFETIME, needed_until + _CLOCK_SKEW)
        with errors_translated():
            key = self._blobs().get_user_delegation_key(now - _CLOCK_SKEW, expires)
        with self._lock:
            self._delegation_key = (key, expires)
        return key

    def committed_blob(self, container: str, name: str) -> CommittedBlob:
        """What the committed blob is; NotFound when nothing is committed yet (blocks put but no
        block list: the upload has not finished)."""
        with errors_translated():
            properties = self._blob(container, name).get_blob_properties()
        return CommittedBlob(
            size=int(properties.size),
            etag=str(properties.etag),
            copied=bool(properties.copy and (properties.copy.id or properties.copy.source)),
            readable=str(properties.blob_tier or "").lower() != "archive",
        )

    def open_blob(self, container: str, name: str, size: int, etag: str) -> BinaryIO:
        """A seekable, buffered file over the blob that reads ranges on demand (a zip's central
        directory is a few reads from its end), each pinned to `etag`."""
        raw = _RangeReader(self._blob(container, name), size, etag)
        return io.BufferedReader(raw, buffer_size=_RANGE_BUFFER_BYTES)

    def read_blob_if(self, container: str, name: str, etag: str) -> bytes:
        """The whole blob, only as it was at `etag` (Conflict if it changed since)."""
        from azure.core import MatchConditions

        with errors_translated():
            downloader = self._blob(container, name).download_blob(
                max_concurrency=4, etag=etag, match_condition=MatchConditions.IfNotModified
            )
            return downloader.readall()

    def download_blob_into(self, container: str, name: str, sink: BinaryIO, etag: str = "") -> int:
        """Stream the blob into `sink` chunk by chunk (never whole in memory); returns its size.
        With `etag`, only the blob as it was then (Conflict if it changed since)."""
        from azure.core import MatchConditions

        conditions: dict[str, Any] = {"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag else {}
        with errors_translated():
            downloader = self._blob(container, name).download_blob(max_concurrency=2, **conditions)
            return int(downloader.readinto(sink))


class _RangeReader(io.RawIOBase):
    def __init__(self, blob: BlobClient, size: int, etag: str) -> None:
        self._blob = blob
        self._size = size
        self._etag = etag
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        from azure.core import MatchConditions

        length = min(len(buffer), self._size - self._position)
        if length <= 0:
            return 0
        with errors_translated():
            data = self._blob.download_blob(
                offset=self._position, length=length, etag=self._etag, match_condition=MatchConditions.IfNotModified
            ).readall()
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)
