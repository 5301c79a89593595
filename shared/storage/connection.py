"""How the app reaches its storage account: a connection string (Azurite, or an account key), or the
Functions host's identity-based form, where each service's URI is a setting and a token from the
app's managed identity signs every request (no account key anywhere).

shared/settings.py reads the settings into a `StorageConnection`; the storage adapter builds its
clients from it. The token credential is made here, in the process that uses it (a conversion step's
child process makes its own), and a token that cannot be had becomes `IdentityUnavailable`, which
names where the token was asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.storage.errors import IdentityUnavailable

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken

SERVICES = ("blob", "queue", "table")
MANAGED_IDENTITY = "managedidentity"
# The identity endpoint is on the instance itself: a few quick tries, then the storage call fails
# (and the queue retries the step), instead of azure-identity's default of four tries over 5 s
# under each of the storage client's own retries.
_CREDENTIAL_RETRY: dict[str, Any] = {"retry_total": 2, "retry_backoff_factor": 0.2}


@dataclass(frozen=True)
class StorageConnection:
    """A connection string, or identity-based service URIs (`connection_string` is then empty)."""

    setting: str  # the setting it was read from, for error messages
    connection_string: str = ""
    blob_uri: str = ""
    queue_uri: str = ""
    table_uri: str = ""
    credential: str = ""  # "managedidentity", or "" for the default chain (Azure CLI sign-in locally)
    client_id: str = ""  # a user-assigned identity's client id; "" for the system-assigned one
    # Whether the environment names a proxy or a CA bundle, which the SDK's HTTP client (requests)
    # then reads on every request. When it names none, the client is told not to look: the look-up
    # was 5-10 % of a table write's CPU (#41). Unknown, as for a bare connection string: look.
    http_environment: bool = True

    def __repr__(self) -> str:
        # A connection string holds the account key: never shown.
        if self.connection_string:
            return f"StorageConnection({self.setting}, connection string)"
        return f"StorageConnection({self.setting}, identity {self.credential or 'default'}, {self.blob_uri})"

    @property
    def uses_identity(self) -> bool:
        return not self.connection_string

    def service_uri(self, service: str) -> str:
        return {"blob": self.blob_uri, "queue": self.queue_uri, "table": self.table_uri}[service]

    def token_credential(self) -> StorageTokenCredential:
        return StorageTokenCredential(self)


class StorageTokenCredential:
    """The app's identity, as the storage clients ask it for tokens.

    Built on first use (azure-identity and MSAL cost ~150 ms to import). A failure to get a token is
    raised as IdentityUnavailable: not an Azure error, so the storage client's retry policy does not
    repeat it, and its message says which identity and endpoint were asked.
    """

    def __init__(self, connection: StorageConnection) -> None:
        self._connection = connection
        self._credential: Any = None

    def _build(self) -> Any:
        if self._credential is None:
            if self._connection.credential == MANAGED_IDENTITY:
                from azure.identity import ManagedIdentityCredential

                self._credential = ManagedIdentityCredential(
                    client_id=self._connection.client_id or None, **_CREDENTIAL_RETRY
                )
            else:
                from azure.identity import DefaultAzureCredential

                self._credential = DefaultAzureCredential(
                    managed_identity_client_id=self._connection.client_id or None, **_CREDENTIAL_RETRY
                )
        return self._credential

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        try:
            token: AccessToken = self._build().get_token(*scopes, **kwargs)
            return token
        except Exception as error:
            setting = self._connection.setting
            identity = (
                f"the managed identity{f' {self._connection.client_id}' if self._connection.client_id else ''}"
                if self._connection.credential == MANAGED_IDENTITY
                else "the default Azure credential chain"
            )
            reason = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
            raise IdentityUnavailable(
                f"no token for storage from {identity} ({setting}__credential, {setting}__clientId; "
                f"the platform's IDENTITY_ENDPOINT): {reason}"
            ) from error

    def close(self) -> None:
        if self._credential is not None:
            self._credential.close()
