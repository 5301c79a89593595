"""The stand-in host's configuration rules, as Core Tools and the host apply them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devhost.config import (
    ConfigError,
    IdentityConnection,
    QueueOptions,
    expand_development_storage,
    host_id,
    load_host_json,
    load_local_settings,
    parse_timespan,
    resolve_connection,
    stable_hash,
)
from devhost.outputs import queue_messages
from devhost.queues import Backoff, poison_queue_name
from devhost.timers import Schedule


def write_settings(folder: Path, data: object) -> None:
    (folder / "local.settings.json").write_text(json.dumps(data))


def test_real_environment_wins_over_local_settings(tmp_path: Path) -> None:
    write_settings(tmp_path, {"IsEncrypted": False, "Values": {"A": "file", "B": "file", "N": 5, "T": True}})
    env = {"A": "real", "B": ""}
    warnings: list[str] = []
    load_local_settings(tmp_path, env, warn=warnings.append)
    assert env == {"A": "real", "B": "file", "N": "5", "T": "True"}
    assert any("Skipping 'A'" in w for w in warnings)


def test_missing_is_encrypted_means_encrypted(tmp_path: Path) -> None:
    write_settings(tmp_path, {"Values": {"A": "x"}})
    with pytest.raises(ConfigError, match="IsEncrypted"):
        load_local_settings(tmp_path, {}, warn=lambda _: None)


def test_an_object_value_makes_every_value_ignored(tmp_path: Path) -> None:
    write_settings(tmp_path, {"IsEncrypted": False, "Values": {"A": "x", "Bad": {"nested": 1}}})
    env: dict[str, str] = {}
    warnings: list[str] = []
    load_local_settings(tmp_path, env, warn=warnings.append)
    assert env == {}
    assert "Bad" in warnings[0]


def test_host_json_overrides_from_environment(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {"queues": {"batchSize": 8}}}))
    config = load_host_json(tmp_path, {"AzureFunctionsJobHost__extensions__queues__batchSize": "3"})
    assert QueueOptions.from_host_json(config).batch_size == 3
    (tmp_path / "host.json").write_text(json.dumps({"version": "1.0"}))
    with pytest.raises(ConfigError):
        load_host_json(tmp_path, {})


def test_queue_defaults_match_the_host() -> None:
    options = QueueOptions.from_host_json({"version": "2.0"})
    assert (options.batch_size, options.max_dequeue_count, options.message_encoding) == (16, 5, "base64")
    assert options.visibility_timeout == timedelta(0)
    assert options.max_polling_interval == timedelta(seconds=2)  # the Development default


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("00:00:15", timedelta(seconds=15)),
        ("01:30", timedelta(hours=1, minutes=30)),
        ("1.00:00:00", timedelta(days=1)),
        ("00:00:00.5", timedelta(milliseconds=500)),
        ("nonsense", None),
    ],
)
def test_timespan(text: str, value: timedelta | None) -> None:
    assert parse_timespan(text) == value


def test_connection_resolution_order() -> None:
    env = {"AzureWebJobsMine": "first", "Mine": "second", "Other": "only"}
    assert resolve_connection("Mine", env) == "first"
    assert resolve_connection("Other", env) == "only"
    assert "127.0.0.1:10001" in str(
        resolve_connection("Storage", {"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    )
    with pytest.raises(ConfigError, match="Missing"):
        resolve_connection("Missing", {})
    assert expand_development_storage("AccountName=x") == "AccountName=x"


def test_host_id_uses_the_hosts_stable_hash() -> None:
    assert stable_hash("") == 23
    assert stable_hash("a") == 23 * 31 + 97
    assert stable_hash("x" * 50) == stable_hash("x" * 50)  # wraps as int32, deterministic
    assert -(2**31) <= stable_hash("/some/long/path" * 20) < 2**31
    assert host_id(Path("/app"), {"AzureFunctionsWebHost__hostid": "MyApp"}) == "myapp"
    computed = host_id(Path("/app"), {})
    assert computed == computed.lower() and len(computed) <= 32


def test_ncrontab_six_fields_and_day_and_weekday() -> None:
    base = datetime(2026, 11, 21, 10, 7, 3, tzinfo=UTC)
    every_quarter = Schedule.parse("0 */15 * * * *", {})
    assert every_quarter.next_after(base) == base.replace(minute=15, second=0)
    assert every_quarter.next_after(base.replace(minute=15, second=0)) == base.replace(minute=30, second=0)
    five_fields = Schedule.parse("30 9 * * *", {})
    assert five_fields.next_after(base) == base.replace(day=22, hour=9, minute=30, second=0)
    friday_13th = Schedule.parse("0 0 0 13 * 5", {})  # NCrontab: the 13th AND a Friday
    assert friday_13th.next_after(base) == datetime(2027, 8, 13, tzinfo=UTC)
    assert Schedule.parse("%SCHED%", {"SCHED": "0 0 * * * *"}).cron == "0 0 * * * *"
    assert Schedule.parse("00:05:00", {}).next_after(base) == base + timedelta(minutes=5)
    assert Schedule.parse("*/5 * * * * *", {}).more_than_once_a_minute(base)
    assert not every_quarter.more_than_once_a_minute(base)
    with pytest.raises(ValueError, match="not recognized"):
        Schedule.parse("every day", {})


def test_queue_output_values_follow_the_hosts_json_rules() -> None:
    assert queue_messages(b"raw") == [b"raw"]
    assert queue_messages("plain text") == [b"plain text"]
    assert queue_messages('{"a":1}') == [b'{\n  "a": 1\n}']  # objects are re-serialised indented
    assert queue_messages('[{"a":1},"b"]') == [b'{\n  "a": 1\n}', b"b"]  # arrays split into messages
    assert queue_messages(["x", "y"]) == [b"x", b"y"]
    with pytest.raises(ValueError):
        queue_messages("{not json}")


def test_polling_backoff_and_poison_names() -> None:
    backoff = Backoff(maximum=2.0)
    delays = [backoff.after_empty() for _ in range(8)]
    assert 0.1 < delays[0] < 0.25
    assert delays == sorted(delays) and delays[-1] == 2.0
    assert backoff.after_messages() == 0.1
    assert poison_queue_name("jobs") == "jobs-poison"
    assert poison_queue_name("jobs-poison") is None
    assert poison_queue_name("q" * 57) is None


def test_function_timeout_default_none_and_invalid() -> None:
    from devhost.config import ConfigError, function_timeout

    assert function_timeout({}) == timedelta(minutes=30)
    assert function_timeout({"functionTimeout": "00:10:00"}) == timedelta(minutes=10)
    assert function_timeout({"functionTimeout": "-1"}) is None
    with pytest.raises(ConfigError):
        function_timeout({"functionTimeout": "ten minutes"})


def test_identity_based_connections_resolve_as_the_host_resolves_them() -> None:
    env = {
        "AzureWebJobsStorage__queueServiceUri": "https://q.example/acct/",
        "AzureWebJobsStorage__blobServiceUri": "https://b.example/acct",
        "AzureWebJobsStorage__credential": "managedidentity",
        "AzureWebJobsStorage__clientId": "abc",
    }
    connection = resolve_connection("Storage", env)
    assert isinstance(connection, IdentityConnection)
    assert connection.service_uri("queue") == "https://q.example/acct"
    assert (connection.credential, connection.client_id) == ("managedidentity", "abc")
    with pytest.raises(ConfigError, match="AzureWebJobsStorage__tableServiceUri"):
        connection.service_uri("table")
    by_account = resolve_connection("AzureWebJobsStorage", {"AzureWebJobsStorage__accountName": "quire"})
    assert isinstance(by_account, IdentityConnection)
    assert by_account.service_uri("table") == "https://quire.table.core.windows.net"
    with pytest.raises(ConfigError, match="no service URI"):
        resolve_connection("Storage", {"AzureWebJobsStorage__clientId": "abc"})
