"""A real JWKS endpoint for tests: an `http.server` on a free port serving whatever key set the test
sets, and signing keys that publish themselves as JWKs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


@dataclass
class Provider:
    """A JWKS endpoint the test controls: its key set, a delay, and how often it was asked."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    delay: float = 0.0
    status: int = 200
    hits: int = 0
    url: str = ""
    server: ThreadingHTTPServer | None = None

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def provider() -> Iterator[Provider]:
    state = Provider()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits += 1
            time.sleep(state.delay)
            body = json.dumps({"keys": state.keys}).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:  # quiet test output
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.server = server
    state.url = f"http://127.0.0.1:{server.server_address[1]}/realms/cp/protocol/openid-connect/certs"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    state.stop()


@dataclass
class Key:
    kid: str
    private: Any
    algorithm: str

    def public_jwk(self) -> dict[str, Any]:
        coder = RSAAlgorithm if self.algorithm == "RS256" else ECAlgorithm
        jwk: dict[str, Any] = json.loads(coder.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def token(self, sub: str = "ops", **claims: Any) -> str:
        payload = {"sub": sub, "roles": ["admin"], "workspaces": ["*"], "exp": int(time.time()) + 60, **claims}
        return jwt.encode(payload, self.private, algorithm=self.algorithm, headers={"kid": self.kid})


def rsa_key(kid: str) -> Key:
    return Key(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")


def ec_key(kid: str) -> Key:
    return Key(kid, ec.generate_private_key(ec.SECP256R1()), "ES256")
