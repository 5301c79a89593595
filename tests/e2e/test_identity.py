"""Identity-based storage end to end: no account key anywhere.

Azurite runs as Azure Storage does for identity-based connections: HTTPS (a certificate made for
the test, trusted through SSL_CERT_FILE / REQUESTS_CA_BUNDLE as a private CA would be) and OAuth
bearer tokens checked for issuer, audience and lifetime (`--oauth basic`). The app's settings are
the host's identity-based form (`AzureWebJobsStorage__blobServiceUri`, ..., `__credential`,
`__clientId`) and the platform's `IDENTITY_ENDPOINT` / `IDENTITY_HEADER` point at a local token
endpoint speaking the App Service protocol, so azure-identity's own managed-identity code fetches
every token, in the stand-in host (queue triggers, outputs, timers) and in the app and its steps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.feeds.servers import FeedServer
from tests.identity_endpoint import STORAGE_RESOURCE, IdentityEndpoint
from tests.pipeline_support import create_book, follow, http_json
from tests.support import ROOT, AppHost, Azurite, free_port, http, start_azurite, start_host, wait_for

CLIENT_ID = "6f1c3a52-9d0e-4b7a-8c21-0e5d4f3b2a19"  # the user-assigned identity's client id
WEB_FUNCTIONS = ["--functions", "health", "create_book", "get_manuscript"]


@dataclass
class IdentitySite:
    azurite: Azurite
    endpoint: IdentityEndpoint
    feeds: FeedServer
    ca_file: Path
    root: Path

    def script_root(self, name: str, settings: dict[str, str]) -> Path:
        """An app folder as a developer sets it up: the app's files, and the app's local.settings.json
        with the identity-based connection in place of the AzureWebJobsStorage connection string."""
        folder = self.root / name
        folder.mkdir()
        for entry in ("function_app.py", "host.json", "shared"):
            (folder / entry).symlink_to(ROOT / entry)
        values = json.loads((ROOT / "local.settings.json").read_text())["Values"]
        del values["AzureWebJobsStorage"]
        values.update(settings, FEEDS_ALLOW_PRIVATE_ADDRESSES="true")
        (folder / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": values}))
        return folder

    def identity_settings(self) -> dict[str, str]:
        return {
            "AzureWebJobsStorage__blobServiceUri": self.azurite.service_uri("blob"),
            "AzureWebJobsStorage__queueServiceUri": self.azurite.service_uri("queue"),
            "AzureWebJobsStorage__tableServiceUri": self.azurite.service_uri("table"),
            "AzureWebJobsStorage__credential": "managedidentity",
            "AzureWebJobsStorage__clientId": CLIENT_ID,
        }

    def platform(self, identity_endpoint: str | None = None) -> dict[str, str]:
        """What Azure Functions sets around the app, and the test's CA (a private CA's bundle)."""
        platform = self.endpoint.environment()
        if identity_endpoint:
            platform["IDENTITY_ENDPOINT"] = identity_endpoint
        # The outer environment's connection string, if any, must not reach this app.
        return {
            **platform,
            "AzureWebJobsStorage": "",
            "SSL_CERT_FILE": str(self.ca_file),
            "REQUESTS_CA_BUNDLE": str(self.ca_file),
        }

    def start(self, name: str, settings: dict[str, str], extra: list[str] | None = None, **platform: str) -> AppHost:
        root = self.script_root(name, settings)
        return start_host(root, self.platform(**platform), self.root / f"{name}.log", extra_args=extra, wait_path=None)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentitySite]:
    import trustme

    root = tmp_path_factory.mktemp("identity")
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    certificate.private_key_pem.write_to_path(str(root / "key.pem"))
    certificate.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
    authority.cert_pem.write_to_path(str(root / "ca.pem"))
    azurite = start_azurite((root / "cert.pem", root / "key.pem"))
    endpoint = IdentityEndpoint(client_id=CLIENT_ID).start()
    feeds = FeedServer().start()
    try:
        yield IdentitySite(azurite, endpoint, feeds, root / "ca.pem", root)
    finally:
        feeds.stop()
        endpoint.stop()
        azurite.stop()


def _health(host: AppHost) -> tuple[int, dict[str, str]]:
    status, body = http_json("GET", f"{host.base_url}/api/health")
    return status, body


def test_azurite_here_refuses_requests_without_a_valid_token(site: IdentitySite) -> None:
    """The emulator really checks: anonymous requests are refused, so the app's success below is its tokens'."""
    import ssl
    import urllib.request

    context = ssl.create_default_context(cafile=str(site.ca_file))
    request = urllib.request.Request(f"{site.azurite.service_uri('blob')}?comp=list")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, context=context, timeout=10)
    assert refused.value.code == 403


def test_a_book_converts_and_its_feed_refreshes_with_no_account_key(site: IdentitySite) -> None:
    settings = site.identity_settings()
    assert not any("AccountKey" in value or "SharedAccessSignature" in value for value in settings.values())
    host = site.start("app", settings)
    try:
        wait_for(lambda: _health(host)[0] == 200, 30, "the app healthy on identity-based storage")
        manuscript = (ROOT / "examples" / "harbour.zip").read_bytes()
        book, owner_key = create_book(host.base_url, manuscript, "harbour.zip")
        job = follow(host.base_url, book, timeout=120)
        assert job["status"] == "succeeded", job
        status, _, epub = http("GET", f"{host.base_url}/api/books/{book}/book.epub")
        assert status == 200 and epub[:2] == b"PK"

        status, _ = http_json(
            "PUT",
            f"{host.base_url}/api/books/{book}/feeds",
            json.dumps({"feeds": [site.feeds.url("/rss")]}).encode(),
            headers={"Authorization": f"Bearer {owner_key}", "Content-Type": "application/json"},
        )
        assert status == 200
        assert http_json("POST", f"{host.base_url}/admin/functions/refresh", b'{"input": ""}')[0] == 202

        def news() -> list[dict[str, str]]:
            return http_json("GET", f"{host.base_url}/api/books/{book}/updates")[1]["items"]

        assert {item["title"] for item in wait_for(news, 30, "news refreshed")} >= {"Launch party", "Errata"}
    finally:
        host.stop()
    # Every token came from the platform's endpoint, for storage, for the configured identity.
    assert site.endpoint.requests
    assert {(r["resource"], r.get("client_id")) for r in site.endpoint.requests} == {(STORAGE_RESOURCE, CLIENT_ID)}
    assert "AccountKey" not in host.log()


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("wrong-audience", "Invalid token audience"), ("expired", "The token is expired")],
)
def test_a_token_storage_refuses_fails_with_a_clear_error(site: IdentitySite, mode: str, reason: str) -> None:
    site.endpoint.mode = mode
    host = site.start(f"refused-{mode}", site.identity_settings(), WEB_FUNCTIONS)
    try:
        status, problem = _health(host)
        assert status == 503
        assert problem["title"] == "Storage refused Quire's credentials"
        assert "AuthenticationFailed" in problem["detail"] and reason in problem["detail"]
        status, _, body = http("POST", f"{host.base_url}/api/books?filename=b.md", b"# One\n\nText.\n")
        assert status == 503 and json.loads(body)["title"] == "Storage unavailable"
    finally:
        site.endpoint.mode = "valid"
        host.stop()
    assert reason in host.log()


def test_an_unreachable_identity_endpoint_fails_fast_naming_it(site: IdentitySite) -> None:
    closed = f"http://127.0.0.1:{free_port()}/msi/token"
    host = site.start("unreachable", site.identity_settings(), WEB_FUNCTIONS, identity_endpoint=closed)
    try:
        started = time.monotonic()
        status, problem = _health(host)
        took = time.monotonic() - started
        assert status == 503
        assert "IDENTITY_ENDPOINT" in problem["detail"] and "AzureWebJobsStorage__clientId" in problem["detail"]
        assert took < 30, f"the health check waited {took:.0f} s for an endpoint that refuses connections"
    finally:
        host.stop()
    assert site.endpoint.header_secret not in host.log()


def test_an_identity_connection_missing_a_service_uri_names_the_setting(site: IdentitySite) -> None:
    settings = site.identity_settings()
    del settings["AzureWebJobsStorage__tableServiceUri"]
    host = site.start("no-table-uri", settings, WEB_FUNCTIONS)
    try:
        status, _, _ = http("GET", f"{host.base_url}/api/health")
        assert status == 500
        assert wait_for(lambda: "AzureWebJobsStorage__tableServiceUri" in host.log(), 10, "the setting named")
    finally:
        host.stop()


def test_a_direct_upload_gets_a_user_delegation_sas_and_converts(site: IdentitySite) -> None:
    """With no account key, the valet key is a user delegation SAS signed with a key the identity
    asked storage for; the client uploads with it over HTTPS and the book converts."""
    import os
    import subprocess
    import sys
    from urllib.parse import parse_qs, urlsplit

    host = site.start("direct", site.identity_settings())
    try:
        wait_for(lambda: _health(host)[0] == 200, 30, "the app healthy on identity-based storage")
        body = json.dumps({"filename": "harbour.zip", "size": 100}).encode()
        status, grant = http_json("POST", f"{host.base_url}/api/uploads", body, {"Content-Type": "application/json"})
        assert status == 201, grant
        query = parse_qs(urlsplit(grant["upload"]["url"]).query)
        assert query["sp"] == ["w"] and query["sr"] == ["b"] and query["spr"] == ["https"]
        assert query["skoid"] and query["sktid"]  # signed by a user delegation key, not an account key
        result = subprocess.run(
            [
                *(sys.executable, str(ROOT / "scripts" / "quire_upload.py"), str(ROOT / "examples" / "harbour.zip")),
                *("--url", host.base_url, "--wait", "--quiet"),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            env={**os.environ, "SSL_CERT_FILE": str(site.ca_file)},
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout.splitlines()[-1]) == {"status": "succeeded", "error": ""}
    finally:
        host.stop()
    assert "AccountKey" not in host.log()


def test_a_credential_missing_a_permission_fails_health_with_the_services_reason(
    azurite: Azurite, tmp_path: Path
) -> None:
    """Storage accepts the credential but it may not read (Azure's answer to an identity missing a
    role: 403 AuthorizationPermissionMismatch). Azurite checks no roles, so the credential here is
    an account SAS without read: the same refusal, from the same service call."""
    from datetime import UTC, datetime, timedelta

    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    account, key = "devstoreaccount1", azurite.connection_string.split("AccountKey=")[1].split(";")[0]
    sas = generate_account_sas(
        account,
        key,
        ResourceTypes(service=True, container=True, object=True),
        AccountSasPermissions(write=True, add=True, create=True),  # no read, no list
        expiry=datetime.now(UTC) + timedelta(hours=1),
        services="bqt",
    )
    connection = ";".join(
        [
            *(part for part in azurite.connection_string.split(";") if part.split("=")[0].endswith("Endpoint")),
            f"SharedAccessSignature={sas}",
        ]
    )
    host = start_host(
        ROOT,
        {"AzureWebJobsStorage": connection},
        tmp_path / "host.log",
        extra_args=["--functions", "health"],
        wait_path=None,
    )
    try:
        wait_for(lambda: "Host started" in host.log(), 30, "the host to start")
        status, problem = _health(host)
        assert status == 503, problem
        assert problem["title"] == "Storage refused Quire's credentials"
        assert "AuthorizationPermissionMismatch" in problem["detail"], problem
    finally:
        host.stop()
    assert sas.split("sig=")[1].split("&")[0] not in host.log()
