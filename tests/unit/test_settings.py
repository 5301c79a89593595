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
