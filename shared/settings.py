"""Settings: the only place the app reads its environment.

`Settings.from_env()` reads a mapping once (the process environment by default) and fails fast,
naming the setting, when a value is missing or malformed. Handlers receive the object; nothing
else in `shared/` touches `os.environ`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from shared.storage.connection import MANAGED_IDENTITY, SERVICES, StorageConnection

DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# Direct uploads (the valet key): the client writes the manuscript straight to Blob Storage with a
# short-lived, write-only SAS for one blob, so the web tier never carries its bytes. Only a zip (a
# manuscript with its images) may exceed MAX_UPLOAD_BYTES this way: the worker reads a zip entry by
# entry from disk, while the other kinds are parsed whole in memory.
DEFAULT_DIRECT_UPLOAD_MAX_BYTES = 1024 * 1024 * 1024
DEFAULT_DIRECT_UPLOAD_SAS_SECONDS = 30 * 60  # 1 GiB at 5 Mbit/s takes 28 minutes
DEFAULT_DIRECT_UPLOAD_BLOCK_BYTES = 8 * 1024 * 1024
# The upload page sends files at least this large through a direct upload, smaller ones in one request.
DEFAULT_DIRECT_UPLOAD_PAGE_THRESHOLD_BYTES = 16 * 1024 * 1024
# Put Block takes at most 4,000 MiB, and a blob at most 50,000 blocks.
MAX_BLOCK_BYTES = 4000 * 1024 * 1024
MAX_BLOCKS = 50_000
DEFAULT_REFRESH_SCHEDULE = "0 */15 * * * *"
DEFAULT_FEEDS_MAX_ITEMS = 50
DEFAULT_FEEDS_INTERVAL_SECONDS = 14 * 60  # a source fetched now is due again at the next slot
DEFAULT_FEEDS_FETCH_DEADLINE_SECONDS = 20  # the whole of one fetch, redirects included
# A running job whose row has not moved for this long is re-driven. Steps take seconds; a
# message that is being retried comes back within maxDequeueCount × visibilityTimeout ≈ 75 s.
DEFAULT_JOB_STALL_SECONDS = 300
# Image bytes the plan step processes itself, on the core the renderer leaves idle; the rest fan
# out to any worker. 0 fans out every image (an instance with one core gains nothing in-process).
DEFAULT_IMAGES_IN_PLAN_BYTES = 16 * 1024 * 1024
# Each conversion step runs in a child process within these (shared/budget/). bench/pipeline.py's
# 5 MB book converts within them (each step logs the CPU and peak memory it used); hostile inputs
# are stopped here, and three steps at once (host.json: batchSize 2 + newBatchThreshold 1) fit a
# 2,048 MB Flex Consumption instance.
DEFAULT_STEP_CPU_SECONDS = 20
DEFAULT_STEP_MEMORY_MB = 512
# The pdf step's: Typst holds the laid-out book, about 300 bytes for each byte of its source, so
# 1,024 MB typesets a book of about 700 pages of text (bench/pdf.py).
DEFAULT_PDF_STEP_MEMORY_MB = 1024
# An upload that has not recorded its job this long after it started is abandoned (its request
# died): its manuscript is deleted. Longer than host.json's functionTimeout (10 minutes), so no
# live request is ever refused by it.
DEFAULT_ABANDONED_UPLOAD_SECONDS = 900
# A book keeps the files of its published edition and of the editions published before it, up to
# this many in all: a reader whose installed book has not yet moved on still reads a whole edition.
DEFAULT_EDITIONS_KEPT = 3


class SettingError(ValueError):
    """A setting is missing or malformed. The message names the setting and what it expects."""


class Secret(str):
    """A string that never shows its value in a repr, a log line or a traceback."""

    def __repr__(self) -> str:
        return "Secret('**********')"


def _positive_int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingError(f"Setting '{name}' must be a whole number, got {raw!r}.") from None
    if value < minimum:
        raise SettingError(f"Setting '{name}' must be at least {minimum}, got {value}.")
    return value


def _boolean(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise SettingError(f"Setting '{name}' must be 'true' or 'false', got {raw!r}.")


def _schedule(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, "").strip() or default
    if len(raw.split()) not in (5, 6):
        raise SettingError(
            f"Setting '{name}' must be an NCRONTAB expression with 6 fields "
            f"(second minute hour day month day-of-week), got {raw!r}."
        )
    return raw


STORAGE_SETTING = "AzureWebJobsStorage"


def _otlp_endpoint(env: Mapping[str, str]) -> str:
    """OTEL_EXPORTER_OTLP_ENDPOINT: the OTLP/HTTP receiver's base URL (traces go to /v1/traces)."""
    raw = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if not raw:
        return ""
    parts = urlsplit(raw)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise SettingError(
            f"Setting 'OTEL_EXPORTER_OTLP_ENDPOINT' must be an http(s) URL such as http://localhost:4318, got {raw!r}."
        )
    return raw.rstrip("/")


def _app_insights_client_id(env: Mapping[str, str]) -> str:
    """APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `Authorization=AAD` (the system-assigned identity)
    or `Authorization=AAD;ClientId=<id>` (a user-assigned one) for ingestion without the key."""
    raw = env.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "").strip()
    if not raw:
        return ""
    parts = {k.strip().lower(): v.strip() for k, _, v in (p.partition("=") for p in raw.split(";") if p.strip())}
    if parts.get("authorization", "").upper() != "AAD":
        raise SettingError(
            "Setting 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING' must be 'Authorization=AAD' or "
            f"'Authorization=AAD;ClientId=<client id>', got {raw!r}."
        )
    return parts.get("clientid", "")


def _direct_upload(env: Mapping[str, str]) -> dict[str, int]:
    max_bytes = _positive_int(env, "DIRECT_UPLOAD_MAX_BYTES", DEFAULT_DIRECT_UPLOAD_MAX_BYTES)
    block_bytes = _positive_int(env, "DIRECT_UPLOAD_BLOCK_BYTES", DEFAULT_DIRECT_UPLOAD_BLOCK_BYTES, minimum=64 * 1024)
    if block_bytes > MAX_BLOCK_BYTES:
        raise SettingError(
            f"Setting 'DIRECT_UPLOAD_BLOCK_BYTES' must be at most {MAX_BLOCK_BYTES} (Put Block's limit)."
        )
    if -(-max_bytes // block_bytes) > MAX_BLOCKS:
        raise SettingError(
            f"Settings 'DIRECT_UPLOAD_MAX_BYTES' and 'DIRECT_UPLOAD_BLOCK_BYTES' ask for more than {MAX_BLOCKS:,} "
            "blocks, more than a blob can hold: raise the block size."
        )
    seconds = _positive_int(env, "DIRECT_UPLOAD_SAS_SECONDS", DEFAULT_DIRECT_UPLOAD_SAS_SECONDS)
    if seconds > 7 * 24 * 3600:
        raise SettingError(
            "Setting 'DIRECT_UPLOAD_SAS_SECONDS' must be at most 604800 (a user delegation key's 7 days)."
        )
    return {
        "direct_upload_max_bytes": max_bytes,
        "direct_upload_sas_seconds": seconds,
        "direct_upload_block_bytes": block_bytes,
        "direct_upload_page_threshold_bytes": _positive_int(
            env, "DIRECT_UPLOAD_PAGE_THRESHOLD_BYTES", DEFAULT_DIRECT_UPLOAD_PAGE_THRESHOLD_BYTES
        ),
    }


def _http_environment(env: Mapping[str, str]) -> bool:
    """Whether `env` names a proxy or a CA bundle for the storage SDK's HTTP client (requests reads
    every `*_proxy` variable, REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE)."""
    return any(
        value.strip() and (key.lower().endswith("_proxy") or key.upper() in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"))
        for key, value in env.items()
    )


def _storage_connection(env: Mapping[str, str], name: str) -> StorageConnection:
    """The host's two forms of a storage connection: `<name>` holding a connection string, or the
    identity-based `<name>__blobServiceUri`, `__queueServiceUri`, `__tableServiceUri` (or
    `__accountName` for all three), `__credential` and `__clientId`. As in the host's configuration,
    `__` and `:` both separate the parts and names are not case-sensitive."""
    value = env.get(name, "")
    if value.strip():
        return StorageConnection(setting=name, connection_string=Secret(value), http_environment=_http_environment(env))
    prefixes = (f"{name}__".lower(), f"{name}:".lower())
    section = {
        key[len(prefix) :].lower(): raw.strip()
        for key, raw in env.items()
        for prefix in prefixes
        if key.lower().startswith(prefix) and raw.strip()
    }
    if not section:
        raise SettingError(
            f"Setting '{name}' is missing. Set it in local.settings.json (locally) or in the function app's "
            f"application settings (in Azure): a connection string, or the identity-based "
            f"'{name}__blobServiceUri', '{name}__queueServiceUri' and '{name}__tableServiceUri'."
        )
    account = section.get("accountname", "")
    uris: dict[str, str] = {}
    for service in SERVICES:
        setting = f"{name}__{service}ServiceUri"
        uri = section.get(f"{service}serviceuri", "").rstrip("/")
        if not uri and account:
            uri = f"https://{account}.{service}.core.windows.net"
        if not uri:
            raise SettingError(
                f"Setting '{setting}' is missing. Quire uses the account's blob, queue and table services, "
                f"so an identity-based connection names all three (or '{name}__accountName' for an account "
                f"in Azure's public cloud)."
            )
        parts = urlsplit(uri)
        if parts.scheme != "https" or not parts.hostname:
            raise SettingError(
                f"Setting '{setting}' must be an https:// URI (storage accepts tokens only over TLS), got {uri!r}."
            )
        uris[service] = uri
    credential = section.get("credential", "").lower()
    if credential not in ("", MANAGED_IDENTITY):
        raise SettingError(
            f"Setting '{name}__credential' must be 'managedidentity' (or absent, for the default Azure "
            f"credential chain), got {section['credential']!r}."
        )
    if credential == MANAGED_IDENTITY:
        endpoint = env.get("IDENTITY_ENDPOINT", "").strip()
        if not endpoint:
            raise SettingError(
                f"Setting '{name}__credential' is 'managedidentity' but IDENTITY_ENDPOINT is not set: a managed "
                f"identity exists only where Azure Functions provides one. Locally, use a connection string "
                f"(UseDevelopmentStorage=true), or drop '{name}__credential' to sign in with the Azure CLI."
            )
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingError(f"Setting 'IDENTITY_ENDPOINT' must be an http(s) URL, got {endpoint!r}.")
    return StorageConnection(
        setting=name,
        blob_uri=uris["blob"],
        queue_uri=uris["queue"],
        table_uri=uris["table"],
        credential=credential,
        client_id=section.get("clientid", ""),
        http_environment=_http_environment(env),
    )


@dataclass(frozen=True)
class Settings:
    storage_connection: StorageConnection = field(repr=False)
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    refresh_schedule: str = DEFAULT_REFRESH_SCHEDULE
    feeds_allow_private_addresses: bool = False
    job_stall_seconds: int = DEFAULT_JOB_STALL_SECONDS
    feeds_max_items: int = DEFAULT_FEEDS_MAX_ITEMS
    feeds_interval_seconds: int = DEFAULT_FEEDS_INTERVAL_SECONDS
    feeds_fetch_deadline_seconds: int = DEFAULT_FEEDS_FETCH_DEADLINE_SECONDS
    images_in_plan_bytes: int = DEFAULT_IMAGES_IN_PLAN_BYTES
    step_cpu_seconds: int = DEFAULT_STEP_CPU_SECONDS
    step_memory_mb: int = DEFAULT_STEP_MEMORY_MB
    pdf_step_memory_mb: int = DEFAULT_PDF_STEP_MEMORY_MB
    abandoned_upload_seconds: int = DEFAULT_ABANDONED_UPLOAD_SECONDS
    direct_upload_max_bytes: int = DEFAULT_DIRECT_UPLOAD_MAX_BYTES
    direct_upload_sas_seconds: int = DEFAULT_DIRECT_UPLOAD_SAS_SECONDS
    direct_upload_block_bytes: int = DEFAULT_DIRECT_UPLOAD_BLOCK_BYTES
    direct_upload_page_threshold_bytes: int = DEFAULT_DIRECT_UPLOAD_PAGE_THRESHOLD_BYTES
    editions_kept: int = DEFAULT_EDITIONS_KEPT
    # The print PDF also claims PDF/A-2a (archival) when Typst's check of it passes.
    pdf_archival: bool = False
    # An edition's EPUB ends with a "Changes in this edition" page (its notes and changed chapters).
    epub_changes_page: bool = True
    otlp_endpoint: str = ""
    app_insights_connection: Secret = field(default=Secret(""), repr=False)
    app_insights_client_id: str = ""
    otel_traces_sampler: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            storage_connection=_storage_connection(env, STORAGE_SETTING),
            max_upload_bytes=_positive_int(env, "MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES),
            refresh_schedule=_schedule(env, "REFRESH_SCHEDULE", DEFAULT_REFRESH_SCHEDULE),
            feeds_allow_private_addresses=_boolean(env, "FEEDS_ALLOW_PRIVATE_ADDRESSES", False),
            job_stall_seconds=_positive_int(env, "JOB_STALL_SECONDS", DEFAULT_JOB_STALL_SECONDS),
            feeds_max_items=_positive_int(env, "FEEDS_MAX_ITEMS", DEFAULT_FEEDS_MAX_ITEMS),
            feeds_interval_seconds=_positive_int(env, "FEEDS_INTERVAL_SECONDS", DEFAULT_FEEDS_INTERVAL_SECONDS),
            feeds_fetch_deadline_seconds=_positive_int(
                env, "FEEDS_FETCH_DEADLINE_SECONDS", DEFAULT_FEEDS_FETCH_DEADLINE_SECONDS
            ),
            images_in_plan_bytes=_positive_int(env, "IMAGES_IN_PLAN_BYTES", DEFAULT_IMAGES_IN_PLAN_BYTES, minimum=0),
            step_cpu_seconds=_positive_int(env, "STEP_CPU_SECONDS", DEFAULT_STEP_CPU_SECONDS),
            step_memory_mb=_positive_int(env, "STEP_MEMORY_MB", DEFAULT_STEP_MEMORY_MB, minimum=64),
            pdf_step_memory_mb=_positive_int(env, "PDF_STEP_MEMORY_MB", DEFAULT_PDF_STEP_MEMORY_MB, minimum=64),
            abandoned_upload_seconds=_positive_int(env, "ABANDONED_UPLOAD_SECONDS", DEFAULT_ABANDONED_UPLOAD_SECONDS),
            **_direct_upload(env),
            editions_kept=_positive_int(env, "EDITIONS_KEPT", DEFAULT_EDITIONS_KEPT),
            pdf_archival=_boolean(env, "PDF_ARCHIVAL", False),
            epub_changes_page=_boolean(env, "EPUB_CHANGES_PAGE", True),
            otlp_endpoint=_otlp_endpoint(env),
            app_insights_connection=Secret(env.get("APPLICATIONINSIGHTS_CONNECTION_STRING", "").strip()),
            app_insights_client_id=_app_insights_client_id(env),
            otel_traces_sampler=env.get("OTEL_TRACES_SAMPLER", "").strip(),
        )
