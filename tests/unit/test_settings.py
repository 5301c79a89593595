from __future__ import annotations

import pytest

from shared.settings import SettingError, Settings


def test_defaults_apply_when_only_storage_is_set() -> None:
    settings = Settings.from_env({"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert settings.max_upload_bytes == 52428800
    assert settings.refresh_schedule == "0 */15 * * * *"
    assert settings.feeds_allow_private_addresses is False
    assert settings.images_in_plan_bytes == 16 * 2**20


def test_images_in_plan_may_be_zero_to_fan_out_every_image() -> None:
    settings = Settings.from_env({"AzureWebJobsStorage": "x", "IMAGES_IN_PLAN_BYTES": "0"})
    assert settings.images_in_plan_bytes == 0


def test_missing_storage_names_the_setting() -> None:
    with pytest.raises(SettingError, match="AzureWebJobsStorage"):
        Settings.from_env({})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_UPLOAD_BYTES", "fifty"),
        ("MAX_UPLOAD_BYTES", "-1"),
        ("FEEDS_ALLOW_PRIVATE_ADDRESSES", "yes please"),
        ("REFRESH_SCHEDULE", "every 15 minutes"),
        ("IMAGES_IN_PLAN_BYTES", "-1"),
        ("DIRECT_UPLOAD_MAX_BYTES", "0"),
        ("DIRECT_UPLOAD_BLOCK_BYTES", "1024"),  # below 64 KiB
        ("DIRECT_UPLOAD_BLOCK_BYTES", str(4001 * 1024 * 1024)),  # above Put Block's 4,000 MiB
        ("DIRECT_UPLOAD_SAS_SECONDS", "604801"),  # beyond a user delegation key's 7 days
        ("DIRECT_UPLOAD_PAGE_THRESHOLD_BYTES", "ten"),
    ],
)
def test_malformed_values_name_the_setting(name: str, value: str) -> None:
    with pytest.raises(SettingError, match=name):
        Settings.from_env({"AzureWebJobsStorage": "x", name: value})


def test_connection_string_never_shows_in_repr() -> None:
    settings = Settings.from_env({"AzureWebJobsStorage": "AccountKey=supersecret"})
    assert "supersecret" not in repr(settings)
    assert "supersecret" not in repr(settings.storage_connection)


def test_committed_local_settings_are_strings_with_the_documented_defaults() -> None:
    import json

    from tests.support import ROOT

    data = json.loads((ROOT / "local.settings.json").read_text())
    assert data["IsEncrypted"] is False
    values = data["Values"]
    assert all(isinstance(v, str) for v in values.values())
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert values["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    assert values["MAX_UPLOAD_BYTES"] == "52428800"
    assert values["REFRESH_SCHEDULE"] == "0 */15 * * * *"
    assert values["FEEDS_ALLOW_PRIVATE_ADDRESSES"] == "false"
    assert values["IMAGES_IN_PLAN_BYTES"] == "16777216"
    Settings.from_env(values)  # the committed values are themselves valid
    # The host's body limit leaves room for multipart framing, so the app can answer 413 itself.
    assert int(values["FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"]) > int(values["MAX_UPLOAD_BYTES"])


IDENTITY = {
    "AzureWebJobsStorage__blobServiceUri": "https://quire.blob.core.windows.net/",
    "AzureWebJobsStorage__queueServiceUri": "https://quire.queue.core.windows.net",
    "AzureWebJobsStorage__tableServiceUri": "https://quire.table.core.windows.net",
    "AzureWebJobsStorage__credential": "managedidentity",
    "AzureWebJobsStorage__clientId": "4b9f1c2e-0000-4000-8000-000000000001",
    "IDENTITY_ENDPOINT": "http://localhost:42356/msi/token",
}


def test_an_identity_based_connection_is_read_as_the_host_reads_it() -> None:
    connection = Settings.from_env(IDENTITY).storage_connection
    assert connection.uses_identity
    assert connection.blob_uri == "https://quire.blob.core.windows.net"
    assert connection.service_uri("table") == "https://quire.table.core.windows.net"
    assert (connection.credential, connection.client_id) == (
        "managedidentity",
        IDENTITY["AzureWebJobsStorage__clientId"],
    )
    # The host's configuration: ':' is the same separator as '__', and names ignore case.
    colon = {key.replace("__", ":").lower(): value for key, value in IDENTITY.items() if "__" in key}
    colon["IDENTITY_ENDPOINT"] = IDENTITY["IDENTITY_ENDPOINT"]
    assert Settings.from_env(colon).storage_connection == connection


def test_an_account_name_stands_for_its_three_public_cloud_uris() -> None:
    connection = Settings.from_env({"AzureWebJobsStorage__accountName": "quire"}).storage_connection
    assert connection.queue_uri == "https://quire.queue.core.windows.net"
    assert connection.credential == ""  # the default chain: an Azure CLI sign-in works locally


def test_a_connection_string_wins_over_an_identity_section() -> None:
    connection = Settings.from_env({**IDENTITY, "AzureWebJobsStorage": "UseDevelopmentStorage=true"}).storage_connection
    assert not connection.uses_identity
    assert "UseDevelopmentStorage" not in repr(connection)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"AzureWebJobsStorage__tableServiceUri": ""}, "AzureWebJobsStorage__tableServiceUri"),
        ({"AzureWebJobsStorage__queueServiceUri": "http://quire.queue.core.windows.net"}, "__queueServiceUri"),
        ({"AzureWebJobsStorage__blobServiceUri": "quire.blob"}, "AzureWebJobsStorage__blobServiceUri"),
        ({"AzureWebJobsStorage__credential": "clientsecret"}, "AzureWebJobsStorage__credential"),
        ({"IDENTITY_ENDPOINT": ""}, "IDENTITY_ENDPOINT"),
        ({"IDENTITY_ENDPOINT": "localhost:42356"}, "IDENTITY_ENDPOINT"),
    ],
)
def test_bad_identity_settings_fail_fast_naming_the_setting(change: dict[str, str], named: str) -> None:
    with pytest.raises(SettingError, match=named):
        Settings.from_env({**IDENTITY, **change})


@pytest.mark.parametrize("endpoint", ["localhost:4318", "grpc://collector:4317", "http://", "http://collector:99999"])
def test_a_malformed_otlp_endpoint_names_the_setting(endpoint: str) -> None:
    with pytest.raises(SettingError, match="OTEL_EXPORTER_OTLP_ENDPOINT"):
        Settings.from_env({"AzureWebJobsStorage": "x", "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})


def test_telemetry_settings_are_read_and_the_connection_string_hidden() -> None:
    settings = Settings.from_env(
        {
            "AzureWebJobsStorage": "x",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318/",
            "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=secret-ikey;IngestionEndpoint=https://x/",
            "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Authorization=AAD;ClientId=abc",
        }
    )
    assert settings.otlp_endpoint == "http://localhost:4318"
    assert settings.app_insights_client_id == "abc"
    assert "secret-ikey" not in repr(settings)
    with pytest.raises(SettingError, match="APPLICATIONINSIGHTS_AUTHENTICATION_STRING"):
        Settings.from_env({"AzureWebJobsStorage": "x", "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "ClientId=abc"})


def test_direct_uploads_default_to_1_gib_in_8_mib_blocks_for_30_minutes() -> None:
    settings = Settings.from_env({"AzureWebJobsStorage": "x"})
    assert settings.direct_upload_max_bytes == 2**30
    assert settings.direct_upload_block_bytes == 8 * 2**20
    assert settings.direct_upload_sas_seconds == 1800
    assert settings.direct_upload_page_threshold_bytes == 16 * 2**20


def test_a_direct_upload_limit_that_needs_more_blocks_than_a_blob_holds_is_refused() -> None:
    env = {
        "AzureWebJobsStorage": "x",
        "DIRECT_UPLOAD_MAX_BYTES": str(500 * 2**30),
        "DIRECT_UPLOAD_BLOCK_BYTES": "65536",
    }
    with pytest.raises(SettingError, match="50,000 blocks"):
        Settings.from_env(env)


def test_the_epubs_changes_page_is_on_unless_turned_off() -> None:
    assert Settings.from_env({"AzureWebJobsStorage": "x"}).epub_changes_page is True
    assert Settings.from_env({"AzureWebJobsStorage": "x", "EPUB_CHANGES_PAGE": "false"}).epub_changes_page is False


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({}, False),
        ({"HTTPS_PROXY": "http://proxy:3128"}, True),
        ({"ftp_proxy": "http://proxy:3128"}, True),
        ({"REQUESTS_CA_BUNDLE": "/etc/ssl/private-ca.pem"}, True),
        ({"CURL_CA_BUNDLE": "/etc/ssl/private-ca.pem"}, True),
        ({"HTTPS_PROXY": "  "}, False),
        ({"SSL_CERT_FILE": "/etc/ssl/private-ca.pem"}, False),  # requests never reads it (it has certifi)
    ],
)
def test_the_storage_clients_read_the_environment_only_when_it_names_a_proxy_or_ca_bundle(
    variables: dict[str, str], named: bool
) -> None:
    for env in (
        {"AzureWebJobsStorage": "UseDevelopmentStorage=true", **variables},
        {"AzureWebJobsStorage__accountName": "quire", **variables},
    ):
        assert Settings.from_env(env).storage_connection.http_environment is named
