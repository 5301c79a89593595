"""Configuration as Core Tools and the host read it: local.settings.json, host.json, connections."""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

DEFAULT_PORT = 7071
DEFAULT_BODY_LIMIT = 104_857_600  # Kestrel's MaxRequestBodySize under func start: 100 MiB


class ConfigError(Exception):
    """The app's configuration files cannot be used; the message says how to fix them."""


def load_local_settings(root: Path, environ: MutableMapping[str, str], warn: Any = print) -> dict[str, Any]:
    """Apply local.settings.json to `environ` as Core Tools does; return the parsed file.

    - IsEncrypted defaults to true when missing; encrypted files cannot be read here.
    - Values must be scalars: an object or array makes Core Tools ignore every value (with a warning).
    - A variable already set (non-empty) in the real environment wins over the file.
    """
    path = root / "local.settings.json"
    if not path.exists():
        warn(f"No local.settings.json in {root}; using the environment only.")
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except ValueError as error:
        raise ConfigError(f"local.settings.json is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError("local.settings.json must hold a JSON object.")
    if data.get("IsEncrypted", True) is not False:
        raise ConfigError(
            'local.settings.json is encrypted or lacks "IsEncrypted": false. Core Tools would try to '
            'decrypt it and fail; set "IsEncrypted": false and store plain values.'
        )
    values = data.get("Values") or {}
    if not isinstance(values, dict):
        raise ConfigError('local.settings.json: "Values" must be an object of string settings.')
    bad = [name for name, value in values.items() if isinstance(value, (dict, list))]
    if bad:
        warn(
            "Failed to read app settings file local.settings.json: values must be strings, but "
            f"{', '.join(bad)} is an object or array. All of its Values are ignored, as Core Tools does."
        )
        values = {}
    for name, value in values.items():
        text = _as_setting(value)
        if environ.get(name):
            warn(f"Skipping '{name}' from local settings as it's already defined in current environment variables.")
            continue
        environ[name] = text
    for name, value in (data.get("ConnectionStrings") or {}).items():
        if isinstance(value, dict):
            value = value.get("ConnectionString", "")
        environ.setdefault(f"ConnectionStrings:{name}", _as_setting(value))
    return data


def _as_setting(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"  # .NET's bool.ToString()
    return str(value)


def load_host_json(root: Path, environ: MutableMapping[str, str]) -> dict[str, Any]:
    """host.json with `AzureFunctionsJobHost__a__b` environment overrides applied."""
    path = root / "host.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8-sig")) if path.exists() else {}
    except ValueError as error:
        raise ConfigError(f"host.json is not valid JSON: {error}") from None
    if config.get("version") != "2.0":
        raise ConfigError('host.json must declare "version": "2.0".')
    for name, value in environ.items():
        if not name.lower().startswith("azurefunctionsjobhost__"):
            continue
        keys = name.split("__")[1:]
        node = config
        for key in keys[:-1]:
            existing = _find_key(node, key)
            if not isinstance(node.get(existing), dict):
                node[existing] = {}
            node = node[existing]
        node[_find_key(node, keys[-1])] = value
    return config


def _find_key(node: dict[str, Any], key: str) -> str:
    """host.json keys are case-insensitive, as .NET configuration is."""
    return next((k for k in node if k.lower() == key.lower()), key)


def section(config: dict[str, Any], *path: str) -> dict[str, Any]:
    node: Any = config
    for key in path:
        node = node.get(_find_key(node, key), {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def get(node: dict[str, Any], key: str, default: Any) -> Any:
    found = _find_key(node, key)
    return node.get(found, default)


_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$")


def parse_timespan(text: str) -> timedelta | None:
    """.NET TimeSpan text: [d.]hh:mm[:ss[.fffffff]], or d:hh:mm when the first field is ≥ 24."""
    text = str(text).strip()
    match = _TIMESPAN.match(text)
    if not match:
        return None
    days, hours, minutes, seconds, fraction = match.groups()
    if days is None and seconds is None:
        return timedelta(hours=int(hours), minutes=int(minutes))
    if days is None and int(hours) >= 24 and seconds is not None and fraction is None:
        return timedelta(days=int(hours), hours=int(minutes), minutes=int(seconds))
    value = timedelta(days=int(days or 0), hours=int(hours), minutes=int(minutes), seconds=int(seconds or 0))
    if fraction:
        value += timedelta(microseconds=int(fraction.ljust(7, "0")[:6]))
    return value


DEFAULT_FUNCTION_TIMEOUT = timedelta(minutes=30)  # the host's default everywhere but Consumption, locally too


def function_timeout(config: dict[str, Any]) -> timedelta | None:
    """host.json `functionTimeout`: a TimeSpan, or -1 for none; 30 minutes when absent."""
    raw = next((v for k, v in config.items() if k.lower() == "functiontimeout"), None)
    if raw is None:
        return DEFAULT_FUNCTION_TIMEOUT
    if str(raw).strip() == "-1":
        return None
    value = parse_timespan(str(raw))
    if value is None or value < timedelta(seconds=1):
        raise ConfigError(f"host.json: functionTimeout '{raw}' is not a TimeSpan of at least 1 second (or -1).")
    return value


@dataclass(frozen=True)
class IdentityConnection:
    """An identity-based connection: `<name>__<service>ServiceUri` (or `__accountName`), signed with
    a token from `__credential` (`managedidentity`: the platform's identity endpoint; absent: the
    default credential chain) and `__clientId` (a user-assigned identity)."""

    name: str
    service_uris: tuple[tuple[str, str], ...]
    credential: str
    client_id: str

    def service_uri(self, service: str) -> str:
        uri = dict(self.service_uris).get(service)
        if not uri:
            raise ConfigError(
                f"The connection '{self.name}' has no '{self.name}__{service}ServiceUri' "
                f"(nor '{self.name}__accountName'), and a {service} binding or trigger uses it."
            )
        return uri


def resolve_connection(name: str, environ: MutableMapping[str, str]) -> str | IdentityConnection:
    """A binding's `connection`: AzureWebJobs<X>, then <X>; each a connection string or, failing
    that, a configuration section (`__` in environment names is the section separator `:`)."""
    name = name or "AzureWebJobsStorage"
    candidates = [f"AzureWebJobs{name}", name] if not name.startswith("AzureWebJobs") else [name]
    for candidate in candidates:
        for key in (f"ConnectionStrings:{candidate}", candidate):
            value = environ.get(key, "")
            if value:
                return expand_development_storage(value)
    for candidate in candidates:
        section = _section(candidate, environ)
        if section:
            return _identity_connection(candidate, section)
    raise ConfigError(
        f"The connection '{name}' is not set. Add 'AzureWebJobs{name}' or '{name}' to local.settings.json, "
        f"or its identity-based form ('AzureWebJobs{name}__queueServiceUri', ...)."
    )


def _section(name: str, environ: MutableMapping[str, str]) -> dict[str, str]:
    prefixes = (f"{name}__".lower(), f"{name}:".lower())
    return {
        key[len(prefix) :].lower(): value.strip()
        for key, value in environ.items()
        for prefix in prefixes
        if key.lower().startswith(prefix) and value.strip()
    }


def _identity_connection(name: str, section: dict[str, str]) -> IdentityConnection:
    account = section.get("accountname", "")
    uris: dict[str, str] = {}
    for service in ("blob", "queue", "table"):
        uri = section.get(f"{service}serviceuri") or (section.get("serviceuri") if service == "blob" else None)
        if not uri and account:
            uri = f"https://{account}.{service}.core.windows.net"
        if uri:
            uris[service] = uri.rstrip("/")
    if not uris:
        raise ConfigError(
            f"The connection '{name}' has settings ({', '.join(sorted(section))}) but no service URI: "
            f"add '{name}__blobServiceUri', '{name}__queueServiceUri' (or '{name}__accountName')."
        )
    return IdentityConnection(
        name, tuple(sorted(uris.items())), section.get("credential", "").lower(), section.get("clientid", "")
    )


def expand_development_storage(value: str) -> str:
    """`UseDevelopmentStorage=true` means Azurite on its default ports."""
    parts = dict(part.split("=", 1) for part in value.split(";") if "=" in part)
    if parts.get("UseDevelopmentStorage", "").lower() != "true":
        return value
    proxy = parts.get("DevelopmentStorageProxyUri", "http://127.0.0.1").rstrip("/")
    account = "devstoreaccount1"
    key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
    return (
        f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
        f"BlobEndpoint={proxy}:10000/{account};QueueEndpoint={proxy}:10001/{account};"
        f"TableEndpoint={proxy}:10002/{account};"
    )


def stable_hash(text: str) -> int:
    """The host's Utility.GetStableHash: h = h*31 + c over UTF-16 code units, as a wrapping int32."""
    value = 23
    data = text.encode("utf-16-le")
    for index in range(0, len(data), 2):
        unit = data[index] | (data[index + 1] << 8)
        value = (value * 31 + unit) & 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def host_id(script_root: Path, environ: MutableMapping[str, str]) -> str:
    """The host id that keys timer locks and status blobs, computed as the local host does."""
    configured = environ.get("AzureFunctionsWebHost__hostid") or environ.get("AzureFunctionsWebHost__hostId")
    if configured:
        return configured.lower()
    machine = "".join(ch for ch in socket.gethostname().split(".")[0] if ch.isalnum())
    value = f"{machine}-{abs(stable_hash(str(script_root)))}"
    return value[:32].lower().rstrip("-")


@dataclass(frozen=True)
class QueueOptions:
    batch_size: int
    new_batch_threshold: int
    max_dequeue_count: int
    visibility_timeout: timedelta
    max_polling_interval: timedelta
    message_encoding: str

    @classmethod
    def from_host_json(cls, config: dict[str, Any]) -> QueueOptions:
        queues = section(config, "extensions", "queues")
        batch_size = int(get(queues, "batchSize", 16))
        if not 1 <= batch_size <= 32:
            raise ConfigError("host.json extensions.queues.batchSize must be between 1 and 32.")
        threshold = get(queues, "newBatchThreshold", None)
        cpus = 1 if os.environ.get("WEBSITE_SKU") == "Dynamic" else (os.cpu_count() or 1)
        max_polling = parse_timespan(get(queues, "maxPollingInterval", "")) or timedelta(seconds=2)
        return cls(
            batch_size=batch_size,
            new_batch_threshold=int(threshold) if threshold is not None else (batch_size // 2) * cpus,
            max_dequeue_count=max(1, int(get(queues, "maxDequeueCount", 5))),
            visibility_timeout=parse_timespan(get(queues, "visibilityTimeout", "")) or timedelta(0),
            # Development (func start) caps the default at 2 s; an explicit value is honoured.
            max_polling_interval=max(max_polling, timedelta(milliseconds=100)),
            message_encoding=str(get(queues, "messageEncoding", "base64")).lower(),
        )


@dataclass(frozen=True)
class SingletonOptions:
    listener_lock_period: timedelta
    listener_lock_recovery_polling_interval: timedelta

    @classmethod
    def from_host_json(cls, config: dict[str, Any]) -> SingletonOptions:
        singleton = section(config, "singleton")
        period = parse_timespan(get(singleton, "listenerLockPeriod", "")) or timedelta(seconds=15)
        recovery = parse_timespan(get(singleton, "listenerLockRecoveryPollingInterval", "")) or timedelta(minutes=1)
        return cls(
            listener_lock_period=min(max(period, timedelta(seconds=15)), timedelta(seconds=60)),
            listener_lock_recovery_polling_interval=recovery,
        )
