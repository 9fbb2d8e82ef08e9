"""Configuration from environment variables (and an optional `.env` file)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    app_env: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    var_dir: Path = Path("var")
    database_url: str | None = None
    db_pool_size: int = Field(default=5, ge=1, le=100)
    db_pool_timeout: float = Field(default=10.0, gt=0)
    db_max_overflow: int = Field(default=5, ge=0, le=100)
    db_connect_timeout: float = Field(default=10.0, gt=0)
    db_statement_timeout_ms: int = Field(default=15000, ge=0)
    """PostgreSQL: a statement running longer is cancelled (0 = no limit)."""
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)

    jwt_secret: SecretStr | None = None
    jwt_public_key: str | None = None
    jwt_private_key: SecretStr | None = None
    jwt_algorithm: Literal["HS256", "RS256", "ES256"] | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_seconds: int = Field(default=0, ge=0, le=300)
    jwt_algorithms: str | None = None
    """Comma-separated algorithms a token may be signed with (pinned; `none` never). Default: HS256 with
    JWT_SECRET, RS256 with JWT_PUBLIC_KEY, RS256 and ES256 with JWT_JWKS_URL. JWT_ALGORITHM (one) also works."""
    jwt_jwks_url: str | None = None
    """An identity provider's JWKS endpoint (Keycloak: .../protocol/openid-connect/certs)."""
    jwt_jwks_cache_seconds: float = Field(default=300, gt=0)
    jwt_jwks_min_refresh_seconds: float = Field(default=30, ge=0)
    """An unknown `kid` refetches the JWKS at most once per this many seconds."""
    jwt_jwks_timeout_seconds: float = Field(default=5, gt=0)
    jwt_roles_claim: str = "roles"
    """Dotted path of the roles claim (`realm_access.roles` for Keycloak, a namespaced URL for Auth0)."""
    jwt_workspaces_claim: str = "workspaces"
    """Dotted path of the workspace grants claim: a list of workspace ids, or ["*"] for all."""

    graphiql: bool | None = None
    graphiql_token: SecretStr | None = None
    """Development: the token GraphiQL's headers editor is prefilled with (`serve` sets it to the admin
    token it prints, for every worker), and the operator console signs in with. Never used in production."""
    console: bool = True
    """The operator console at /console (production too: there the operator pastes a token)."""
    graphql_cache_size: int = Field(default=512, ge=1)
    max_request_bytes: int = Field(default=1024 * 1024, ge=1)
    """A request body over this many bytes is refused with 413 before it is read."""
    graphql_max_depth: int = Field(default=10, ge=1)
    graphql_max_aliases: int = Field(default=15, ge=0)
    graphql_max_tokens: int = Field(default=2000, ge=1)
    graphql_max_directives: int = Field(default=50, ge=0)
    graphql_introspection: bool | None = None
    """Answer `__schema` / `__type` queries; default: on in development, off in production."""
    log_level: str = "INFO"
    log_format: Literal["json", "text"] | None = None
    """One JSON object per line, or readable text; default: json in production, text in development."""
    cors_origins: str = ""
    """Comma-separated origins allowed to call the API from a browser (with credentials); none by default."""
    content_security_policy: str | None = None
    """When set, the Content-Security-Policy of every HTML response (replacing a page's own)."""
    metrics_enabled: bool = True
    """Prometheus metrics at GET /metrics."""
    metrics_bearer_token: SecretStr | None = None
    """When set, GET /metrics answers 401 unless `Authorization: Bearer <this>` (otherwise keep /metrics
    on an internal network)."""
    otel_exporter_otlp_endpoint: str | None = None
    """OTLP/HTTP collector (e.g. http://127.0.0.1:4318): one span per GraphQL request (needs the `otel` extra)."""
    bench_endpoints: bool = False

    policy_high_approver_role: str = "admin"
    """Role that decides high-risk steps; empty = none, and verifyPlan rejects plans with such steps."""
    policy_critical_approver_role: str = "admin"
    """Role that decides critical steps; empty = none, and verifyPlan rejects plans with such steps."""

    approval_policy_file: Path | None = None
    """The approval policy (JSON, or TOML when the name ends in .toml): who decides which steps, how many
    must agree, deadlines. Unset: the built-in policy (high and critical steps need one admin)."""
    approval_sweep_interval_seconds: float = Field(default=5.0, ge=0.1, le=3600)
    """How often each server process looks for requests past their deadline."""
    approval_sweeper_enabled: bool = True
    """Run the deadline sweeper in this process (off: only `python -m app sweep`, e.g. from cron)."""
    tally_fold_interval_seconds: float = Field(default=10.0, ge=0.1, le=3600)
    """How often each server process folds the execution tally (the exact totals of `executions`) to one row per
    group; counts stay exact between folds, only the rows to sum grow."""

    live_poll_interval_seconds: float = Field(default=1.0, ge=0.05, le=60)
    """Subscriptions: how often each server process reads the event log when no wake-up came (another
    process's commit on SQLite, a lost NOTIFY on PostgreSQL); wake-ups make it immediate otherwise."""
    live_inbox_events: int = Field(default=10_000, ge=1)
    """Events a subscription may have waiting in memory; beyond, it re-reads the log from its cursor."""
    ws_max_subscriptions_per_connection: int = Field(default=20, ge=1)
    """graphql-transport-ws: operations at once on one WebSocket; one more gets an `error` message."""
    ws_max_connections_per_principal: int = Field(default=50, ge=1)
    """WebSockets one principal (token `sub`) may hold open on one server process; one more is closed 4429."""
    ws_max_message_bytes: int = Field(default=64 * 1024, ge=1024)
    """A client message over this size closes the WebSocket (1009, by uvicorn's `ws_max_size`)."""
    ws_per_message_deflate: bool = False
    """Offer permessage-deflate to WebSocket clients. Off: compression keeps a zlib compressor and decompressor
    per socket (about 50 KB of the ~110 KB an idle subscriber cost) and compresses every message once per
    subscriber, where uncompressed the JSON of a change is encoded once for all (bench/live.py)."""
    ws_send_timeout_seconds: float = Field(default=10.0, ge=0.1, le=600)
    """How long one message may wait for a WebSocket to take it (its buffers full: the client reads too slowly);
    longer, and the socket is closed 4008 (the log keeps everything: it reconnects and resumes from its cursor)."""
    ws_connection_init_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    """A WebSocket that sends no `connection_init` within this time is closed 4408."""
    webhook_delivery_enabled: bool = True
    """Run webhook delivery in this process (every server process delivers; the work is claimed in the database)."""
    webhook_poll_interval_seconds: float = Field(default=1.0, ge=0.01, le=3600)
    """How often each server process looks at the event log for events to deliver and at deliveries due."""
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    """A delivery attempt that has no complete answer within this many seconds failed."""
    webhook_retry_schedule: str = "5,30,120,900,3600,21600"
    """Comma-separated seconds to wait before each retry (each with ±10 % jitter); after the last, `failed`."""
    webhook_allow_http: bool = False
    """Accept `http://` endpoint URLs (otherwise only `https://`)."""
    webhook_allow_private_networks: bool = False
    """Accept targets that resolve to loopback, private, link-local or metadata addresses (tests, local receivers)."""
    webhook_max_in_flight: int = Field(default=32, ge=1, le=1000)
    """Endpoints this process delivers to at the same time (one delivery per endpoint at a time, in order)."""

    skill_trust_policy: str | None = None
    """JSON trust policy of the skill registry: {"trustedPublishers": [...], "allowExpiredSignatures": false}."""
    skill_trust_policy_file: Path | None = None
    """A file holding that JSON instead (set one of the two; neither = no publisher is trusted)."""

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.var_dir / 'control-plane.db').as_posix()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def graphiql_enabled(self) -> bool:
        return (not self.is_production) if self.graphiql is None else self.graphiql

    @property
    def introspection_enabled(self) -> bool:
        return (not self.is_production) if self.graphql_introspection is None else self.graphql_introspection

    @property
    def resolved_log_format(self) -> Literal["json", "text"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.is_production else "text"

    @property
    def jwt_algorithm_list(self) -> list[str]:
        if self.jwt_algorithms:
            return [name.strip() for name in self.jwt_algorithms.split(",") if name.strip()]
        return [self.jwt_algorithm] if self.jwt_algorithm else []

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip().rstrip("/") for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def webhook_retry_delays(self) -> tuple[float, ...]:
        return tuple(float(part) for part in self.webhook_retry_schedule.split(",") if part.strip())

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _retry_schedule(cls, value: str) -> str:
        parts = [part.strip() for part in value.split(",") if part.strip()]
        try:
            delays = [float(part) for part in parts]
        except ValueError:
            raise ValueError("WEBHOOK_RETRY_SCHEDULE must be comma-separated seconds, e.g. 5,30,120") from None
        if any(delay < 0 or delay > 7 * 86400 for delay in delays) or len(delays) > 20:
            raise ValueError("WEBHOOK_RETRY_SCHEDULE: at most 20 delays, each 0 to 604800 seconds")
        return value

    @field_validator("cors_origins")
    @classmethod
    def _explicit_origins(cls, value: str) -> str:
        if any(origin.strip() == "*" for origin in value.split(",")):
            raise ValueError("CORS_ORIGINS must name the origins (https://studio.example.com), not '*'")
        return value

    @property
    def graphiql_prefilled_token(self) -> str | None:
        """The token to embed in the GraphiQL page: none in production, whatever is configured."""
        if self.is_production or not self.graphiql_enabled or self.graphiql_token is None:
            return None
        return self.graphiql_token.get_secret_value() or None

    @property
    def console_enabled(self) -> bool:
        return self.console

    @property
    def console_prefilled_token(self) -> str | None:
        """The token the console page signs in with: none in production (paste one there)."""
        if self.is_production or not self.console or self.graphiql_token is None:
            return None
        return self.graphiql_token.get_secret_value() or None
