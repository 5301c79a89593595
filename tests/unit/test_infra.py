"""infra/ (Bicep, for `azd up`), checked offline with a Bicep parser: storage without shared keys,
a managed identity with exactly its roles, and the same application settings as the app knows."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

from shared import settings
from shared.storage import names as resources
from tests.unit.test_function_app import _index

ROOT = Path(__file__).resolve().parents[2]
# The host's own settings, not the app's: the connection's identity-based form and telemetry.
HOST_SETTINGS = {
    "AzureWebJobsStorage__blobServiceUri",
    "AzureWebJobsStorage__queueServiceUri",
    "AzureWebJobsStorage__tableServiceUri",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT",
    "PYTHON_ENABLE_OPENTELEMETRY",
}
# Local development only: in Azure its default (false) is the only right value; and an OTLP
# collector is optional beside Application Insights.
DEVELOPMENT_ONLY = {"FEEDS_ALLOW_PRIVATE_ADDRESSES", "OTEL_EXPORTER_OTLP_ENDPOINT"}
# Set by the platform on every instance, never by the deployment; or an operator's optional tuning.
PLATFORM = {"IDENTITY_ENDPOINT"}
OPTIONAL = {"OTEL_TRACES_SAMPLER"}
ROLES = {
    "storageBlobDataOwner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "storageQueueDataContributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "storageTableDataContributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
}


@pytest.fixture(scope="module")
def bicep() -> dict[str, Any]:
    parsed: dict[str, Any] = dict(BicepParser().parse(file_path=ROOT / "infra" / "main.bicep"))
    return parsed


def settings_the_app_reads() -> set[str]:
    """Every name shared/settings.py reads (through a reader, or `env.get`), and every %NAME% a trigger binds."""
    tree = ast.parse((ROOT / "shared" / "settings.py").read_text(encoding="utf-8"))
    readers = {"_positive_int", "_boolean", "_schedule"}
    names: set[str] = {
        str(node.args[1].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in readers
        and len(node.args) > 1
        and isinstance(node.args[1], ast.Constant)
    }
    names |= {
        str(node.args[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "env"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }
    names.add(settings.STORAGE_SETTING)
    for function in _index().values():
        for binding in function["bindings"]:
            for value in binding.values():
                if isinstance(value, str) and value.startswith("%") and value.endswith("%"):
                    names.add(value.strip("%"))
    return names


def test_every_setting_the_app_reads_is_declared_and_nothing_else(bicep: dict[str, Any]) -> None:
    app_settings = bicep["resources"]["app"]["config"]["properties"]["siteConfig"]["appSettings"]
    declared = {entry["name"] for entry in app_settings}
    known = settings_the_app_reads()
    # The reader above finds each kind of read.
    assert {"JOB_STALL_SECONDS", "RECONCILE_SCHEDULE", "APPLICATIONINSIGHTS_CONNECTION_STRING"} <= known
    # The storage connection is declared in its identity-based form, as the host reads it.
    assert known - DEVELOPMENT_ONLY - PLATFORM - OPTIONAL - {"AzureWebJobsStorage"} == declared - HOST_SETTINGS
    assert not any(name.startswith("AzureWebJobsStorage") and "__" not in name for name in declared)
    by_name = {entry["name"]: entry["value"] for entry in app_settings}
    assert by_name["AzureWebJobsStorage__credential"] == "managedidentity"
    assert by_name["PYTHON_ENABLE_OPENTELEMETRY"] == "true"


def test_storage_allows_no_shared_key_and_no_public_blobs(bicep: dict[str, Any]) -> None:
    properties = bicep["resources"]["storage"]["config"]["properties"]
    assert properties["allowSharedKeyAccess"] is False
    assert properties["allowBlobPublicAccess"] is False
    assert properties["minimumTlsVersion"] == "TLS1_2"
    containers = bicep["resources"]["containers"]["config"]
    assert json.dumps(containers).count('"publicAccess": "None"') == 1


def test_the_storage_the_app_uses_is_created(bicep: dict[str, Any]) -> None:
    variables = {name: value["value"] for name, value in bicep["variables"].items()}
    assert set(variables["queueNames"]) == {
        resources.CONVERSION_QUEUE,
        resources.CONVERSION_POISON_QUEUE,
        resources.FEED_QUEUE,
    }
    assert set(variables["tableNames"]) == {
        resources.JOB_TABLE,
        resources.BOOK_TABLE,
        resources.FEED_TABLE,
        resources.SHELF_TABLE,
    }
    containers = {
        resources.MANUSCRIPT_CONTAINER,
        resources.WORK_CONTAINER,
        resources.BOOK_CONTAINER,
        resources.FEED_CONTAINER,
    }
    assert containers <= set(variables["blobContainers"])


def test_one_user_assigned_identity_with_exactly_its_roles(bicep: dict[str, Any]) -> None:
    resources = bicep["resources"]
    app = resources["app"]["config"]
    assert app["identity"]["type"] == "UserAssigned"
    assignments = {
        name: resource["config"]
        for name, resource in resources.items()
        if resource["type"] == "Microsoft.Authorization/roleAssignments"
    }
    on_storage = {
        json.dumps(a["properties"]["roleDefinitionId"]) for a in assignments.values() if a["scope"] == "storage"
    }
    assert len(on_storage) == len(ROLES) == 3
    for role in ROLES:
        assert any(role in text for text in on_storage), role
    variables = {name: value["value"] for name, value in bicep["variables"].items()}
    assert {variables[role] for role in ROLES} == set(ROLES.values())
    for assignment in assignments.values():
        assert "identity" in json.dumps(assignment["properties"]["principalId"])
        assert assignment["properties"]["principalType"] == "ServicePrincipal"


def test_flex_consumption_python_313_with_identity_based_telemetry(bicep: dict[str, Any]) -> None:
    resources = bicep["resources"]
    assert resources["plan"]["config"]["sku"] == {"tier": "FlexConsumption", "name": "FC1"}
    runtime = resources["app"]["config"]["properties"]["functionAppConfig"]["runtime"]
    assert runtime == {"name": "python", "version": "3.13"}
    assert resources["insights"]["config"]["properties"]["DisableLocalAuth"] is True
    parameters = bicep["parameters"]
    assert {"instanceMemoryMB", "maximumInstanceCount", "vnetEnabled"} <= set(parameters)


def test_the_deployment_package_leaves_out_the_stand_in_host_and_tests() -> None:
    ignored = (ROOT / ".funcignore").read_text().split()
    assert {"devhost", "tests", "bench", "local.settings.json", "infra"} <= set(ignored)


def test_the_blob_endpoint_lets_only_the_upload_page_write_direct_uploads(bicep: dict[str, Any]) -> None:
    """CORS for the page's direct uploads: writes (and their preflight) only, from the app's own origin."""
    rules = bicep["resources"]["blobService"]["config"]["properties"]["cors"]["corsRules"]
    assert len(rules) == 1
    rule = rules[0]
    assert sorted(rule["allowedMethods"]) == ["OPTIONS", "PUT"]
    assert "*" not in json.dumps(rule["allowedOrigins"])
    assert "appName" in json.dumps(rule["allowedOrigins"]) and "azurewebsites.net" in json.dumps(rule["allowedOrigins"])


def test_nothing_keeps_a_deleted_blob(bicep: dict[str, Any]) -> None:
    """Erasure must leave nothing: no versions, soft-deleted blobs or containers, or change feed."""
    properties = bicep["resources"]["blobService"]["config"]["properties"]
    assert properties["isVersioningEnabled"] is False
    assert properties["deleteRetentionPolicy"]["enabled"] is False
    assert properties["containerDeleteRetentionPolicy"]["enabled"] is False
    assert properties["changeFeed"]["enabled"] is False
