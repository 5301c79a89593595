"""A local managed-identity endpoint, speaking the App Service protocol Azure Functions gives an app.

On Azure Functions the platform sets `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`; azure-identity's
ManagedIdentityCredential then asks `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=...`
with the header `X-IDENTITY-HEADER`, and gets `{"access_token", "expires_on", "resource",
"token_type", "client_id"}` back. This server answers the same way with a JWT that Azurite's OAuth
mode (`--oauth basic`) checks: issuer, audience, not-before and expiry (not the signature, which
only Entra ID could make). Its `mode` makes the faults a deployment meets: a token for the wrong
audience, or one that has already expired (the endpoint's clock ahead of storage's view).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
STORAGE_RESOURCE = "https://storage.azure.com"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: dict[str, Any], key: bytes) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims).encode())
    signature = _b64(hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"


@dataclass
class IdentityEndpoint:
    """The token endpoint, on a port of its own. `mode`: "valid", "wrong-audience" or "expired"."""

    client_id: str
    header_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    mode: str = "valid"
    requests: list[dict[str, str]] = field(default_factory=list)

    def start(self) -> IdentityEndpoint:
        endpoint = self
        signing_key = secrets.token_bytes(32)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                endpoint.requests.append(query)
                if self.headers.get("X-IDENTITY-HEADER") != endpoint.header_secret:
                    return self._answer(401, {"error": "invalid_request", "error_description": "bad identity header"})
                if query.get("api-version") != "2019-08-01" or not query.get("resource"):
                    return self._answer(400, {"error": "invalid_request", "error_description": "bad query"})
                if query.get("client_id", endpoint.client_id) != endpoint.client_id:
                    return self._answer(400, {"error": "invalid_request", "error_description": "Identity not found"})
                now = int(time.time())
                audience = query["resource"] if endpoint.mode != "wrong-audience" else "https://vault.azure.net"
                lifetime = (now - 3600, now - 60) if endpoint.mode == "expired" else (now - 60, now + 3600)
                token = make_jwt(
                    {
                        "aud": audience,
                        "iss": f"https://sts.windows.net/{TENANT}/",
                        "iat": lifetime[0],
                        "nbf": lifetime[0],
                        "exp": lifetime[1],
                        "appid": endpoint.client_id,
                        "oid": endpoint.client_id,
                        "tid": TENANT,
                    },
                    signing_key,
                )
                # The endpoint tells the client the token lasts an hour whatever it says inside, so an
                # expired token reaches storage (as when the issuer's and storage's clocks disagree).
                return self._answer(
                    200,
                    {
                        "access_token": token,
                        "expires_on": str(now + 3600),
                        "resource": query["resource"],
                        "token_type": "Bearer",
                        "client_id": endpoint.client_id,
                    },
                )

            def _answer(self, status: int, body: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/msi/token"

    def environment(self) -> dict[str, str]:
        """What Azure Functions sets for an app with a managed identity."""
        return {"IDENTITY_ENDPOINT": self.url, "IDENTITY_HEADER": self.header_secret}

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
