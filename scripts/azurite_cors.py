"""Let the upload page's origin write to the local Blob endpoint, as infra/main.bicep does in Azure.

The upload page sends large manuscripts from the browser straight to Blob Storage (a direct upload
with a valet-key SAS), so the blob service must answer the page's CORS preflight. Azurite answers
none until its service properties name the origins; they persist in its data folder.

    python scripts/azurite_cors.py "<connection string>" http://localhost:7071 [more origins...]
"""

from __future__ import annotations

import sys

from azure.storage.blob import BlobServiceClient, CorsRule


def allow_origins(connection_string: str, origins: list[str]) -> None:
    rule = CorsRule(
        allowed_origins=origins,
        allowed_methods=["PUT", "OPTIONS"],
        allowed_headers=["content-type", "content-length", "x-ms-*"],
        exposed_headers=["x-ms-request-id", "x-ms-error-code"],
        max_age_in_seconds=3600,
    )
    BlobServiceClient.from_connection_string(connection_string).set_service_properties(cors=[rule])


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    allow_origins(sys.argv[1], sys.argv[2:])
