"""Command line: serve, migrate, seed, check, token, export-schema, skill keygen/sign/verify."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import typer

from app.errors import AppError, ConfigurationError
from app.settings import Settings

cli = typer.Typer(add_completion=False, no_args_is_help=True, help="Contract-first GraphQL control plane.")

DEV_TOKEN_TTL = 12 * 3600


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as error:  # noqa: BLE001 - any unreadable setting is a configuration error to report, not a crash
        raise _fail(f"invalid configuration: {error}") from None


async def _prepare(settings: Settings, seed: bool | None, seeds_dir: Path | None) -> str:
    from app.db import migrate
    from app.seeding.player import default_dataset, load_seed, seeding_settings
    from app.server import build_services

    dataset = default_dataset(seeds_dir) if seeds_dir else default_dataset()
    services = build_services(seeding_settings(settings, dataset))
    try:
        await migrate.upgrade(services.database.engine)
        if seed is None:
            seed = not settings.is_production and await _is_empty(services.database)
        if not seed:
            return "kept"
        report = await load_seed(services.database, services.executor, dataset)
        return f"seeded {report.executions_added} executions"
    finally:
        await services.database.dispose()


async def _is_empty(database: object) -> bool:
    from sqlalchemy import func, select

    from app.db.database import Database
    from app.db.tables import Execution

    assert isinstance(database, Database)
    async with database.unit_of_work(write=False) as session:
        return (await session.execute(select(func.count()).select_from(Execution))).scalar_one() == 0


@cli.command()
def serve(
    workers: Annotated[int, typer.Option(envvar="WORKERS", min=1, help="uvicorn worker processes")] = 1,
    seed: Annotated[
        bool | None, typer.Option("--seed/--no-seed", help="load the demo seeds (default: when the database is empty)")
    ] = None,
    reload: Annotated[bool, typer.Option(help="restart on code changes (development)")] = False,
) -> None:
    """Migrate, seed on first start, print the GraphiQL address and an admin token, and serve."""
    import uvicorn

    from app.auth import token_service_from_settings

    settings = _settings()
    from app.observability.logs import configure_logging, logging_config

    configure_logging(settings)  # LOG_FORMAT (json in production) on stderr; uvicorn's workers get the same
    from app.services.bindings import approval_policy_from_settings
    from app.services.skills.registry import load_trust_policy

    try:
        tokens = token_service_from_settings(settings)
        load_trust_policy(settings)
        approval_policy = approval_policy_from_settings(settings)
    except ConfigurationError as error:
        raise _fail(str(error)) from None
    outcome = asyncio.run(_prepare(settings, seed, None))
    base = f"http://{settings.host}:{settings.port}"
    url = f"{base}/graphql"
    typer.echo(f"Control plane ({settings.app_env}) on {_database_label(settings)} — database {outcome}")
    typer.echo(f"  GraphQL endpoint: {url}" + ("  (GraphiQL in a browser)" if settings.graphiql_enabled else ""))
    if settings.console_enabled:
        typer.echo(f"  Operator console: {base}/console/")
    typer.echo(
        f"  Approval policy {approval_policy.version!r} ({len(approval_policy.rules)} rule(s), "
        f"{'file ' + str(settings.approval_policy_file) if settings.approval_policy_file else 'built-in'}); "
        f"deadlines swept every {settings.approval_sweep_interval_seconds:g} s"
        + ("" if settings.approval_sweeper_enabled else " (sweeper off in this process)")
    )
    if not settings.is_production and tokens.can_mint:
        token = tokens.mint("admin", ["admin"], ["*"], DEV_TOKEN_TTL)
        typer.echo("  Admin token (sub 'admin', every workspace, valid 12 h):")
        typer.echo(f"    {token}")
        if settings.graphiql_enabled or settings.console_enabled:
            # The same token for the pages of every worker (and reloaded process): they inherit the
            # environment and read it as Settings.graphiql_token. Never logged.
            os.environ["GRAPHIQL_TOKEN"] = token
            pages = (("GraphiQL", settings.graphiql_enabled), ("the console", settings.console_enabled))
            typer.echo(f"  {' and '.join(name for name, on in pages if on)} sign in with it.")
    sys.stdout.flush()
    uvicorn.run(
        "app.server:create_served_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers if not reload else None,
        reload=reload,
        log_level=settings.log_level.lower(),
        log_config=logging_config(settings),
        access_log=False,  # app.request writes one line per request instead
        ws_max_size=settings.ws_max_message_bytes,  # a bigger client message closes the socket (1009)
        ws_per_message_deflate=settings.ws_per_message_deflate,  # off by default: memory and CPU per socket
    )


def _database_label(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(settings.resolved_database_url)
    return f"{url.get_backend_name()} {url.database}" if url.get_backend_name() == "sqlite" else url.render_as_string()


@cli.command()
def migrate() -> None:
    """Upgrade the database schema to the latest migration."""

    async def run() -> None:
        from app.db import migrate as migrations
        from app.db.database import Database

        database = Database(settings)
        try:
            await migrations.upgrade(database.engine)
        finally:
            await database.dispose()

    settings = _settings()
    asyncio.run(run())
    typer.echo("database schema is at the latest migration")


@cli.command()
def seed(
    directory: Annotated[Path | None, typer.Option("--dir", help="seed directory (default: seeds/)")] = None,
) -> None:
    """Load the demo data set (idempotent: running it twice changes nothing)."""
    settings = _settings()
    if directory is not None and not directory.is_dir():
        raise _fail(f"{directory} is not a directory")
    from app.seeding.player import SeedError

    try:
        outcome = asyncio.run(_prepare(settings, True, directory))
    except (ConfigurationError, AppError, SeedError, ValueError) as error:
        raise _fail(str(error)) from None
    typer.echo(outcome)


@cli.command()
def check() -> None:
    """Check that steps, decisions, runs, events, plan hashes and evidence digests agree (exit 1 if not)."""

    async def run() -> list[str]:
        from app.db.database import Database
        from app.services.audit.invariants import check as check_invariants

        database = Database(settings)
        try:
            async with database.unit_of_work(write=False) as session:
                return [str(problem) for problem in await check_invariants(session)]
        finally:
            await database.dispose()

    settings = _settings()
    problems = asyncio.run(run())
    for problem in problems:
        typer.echo(problem)
    if problems:
        typer.echo(f"{len(problems)} problem(s) found", err=True)
        raise typer.Exit(code=1)
    typer.echo("ok: steps, decisions and events agree")


@cli.command()
def sweep() -> None:
    """Settle every approval request past its deadline, once (for cron; each server also sweeps)."""

    async def run() -> str:
        from app.db.database import Database
        from app.services.approval.sweeper import sweep as sweep_once

        database = Database(settings)
        try:
            report = await sweep_once(database.unit_of_work)
        finally:
            await database.dispose()
        return (
            f"approval deadlines: {len(report.escalated)} escalated, {len(report.expired)} expired, "
            f"{len(report.approved)} approved by timeout"
        )

    settings = _settings()
    typer.echo(asyncio.run(run()))


@cli.command()
def token(
    sub: Annotated[str, typer.Option(help="the principal id (JWT `sub`)")],
    role: Annotated[
        list[str] | None,
        typer.Option(help="a role; repeat for several: admin, runner or user, and approver roles (release-manager)"),
    ] = None,
    workspace: Annotated[
        list[str] | None,
        typer.Option(help="a workspace it may reach; repeat for several, '*' for all (none: no workspace data)"),
    ] = None,
    ttl: Annotated[int, typer.Option(min=1, help="seconds until the token expires")] = 3600,
) -> None:
    """Mint a bearer token; prints the token alone, so TOKEN=$(python -m app token ...) works."""
    import re

    from app.auth import ALL_WORKSPACES, ROLE_LEVELS, token_service_from_settings
    from app.contracts.control_plane.approval import ROLE_PATTERN
    from app.contracts.types import ID_PATTERN

    malformed = sorted(item for item in set(role or []) if not re.match(ROLE_PATTERN, item))
    if malformed:
        raise _fail(
            f"invalid role name(s) {', '.join(map(repr, malformed))}; a role is lowercase letters, digits and "
            f"'_.:-', starting with a letter (levels: {', '.join(ROLE_LEVELS)}; approver roles like release-manager)"
        )
    grants = workspace or []
    invalid = [item for item in grants if item != ALL_WORKSPACES and not re.match(ID_PATTERN, item)]
    if invalid:
        raise _fail(f"invalid workspace id(s) {', '.join(map(repr, invalid))}; use ids like ws-acme, or '*'")
    settings = _settings()
    try:
        tokens = token_service_from_settings(settings)
        typer.echo(tokens.mint(sub, role or [], grants, ttl))
    except ConfigurationError as error:
        raise _fail(str(error)) from None


@cli.command("export-schema")
def export_schema(
    output: Annotated[Path, typer.Option(help="where to write the SDL")] = Path("schema.graphql"),
    check: Annotated[bool, typer.Option(help="only compare; exit 1 when the file differs")] = False,
) -> None:
    """Write the GraphQL schema generated from the contracts (schema.graphql)."""
    from app.graphql.sdl import printed_schema

    sdl = printed_schema()
    if check:
        if not output.exists() or output.read_text() != sdl:
            typer.echo(f"{output} differs from the contracts; run: python -m app export-schema", err=True)
            raise typer.Exit(code=1)
        typer.echo(f"{output} is up to date")
        return
    output.write_text(sdl)
    typer.echo(f"wrote {output}")


skill_cli = typer.Typer(no_args_is_help=True, help="Skill publishing: key pairs, signed manifests, verification.")
cli.add_typer(skill_cli, name="skill")

Algorithm = Literal["ed25519", "rsa-pss-sha256"]


@skill_cli.command("keygen")
def skill_keygen(
    out: Annotated[Path, typer.Option(help="private key file (PKCS#8 PEM, mode 0600)")] = Path("skill-key.pem"),
    algorithm: Annotated[str, typer.Option(help="ed25519 or rsa-pss-sha256 (RSA 3072)")] = "ed25519",
    force: Annotated[bool, typer.Option(help="overwrite existing files")] = False,
) -> None:
    """Create a signing key pair: KEY.pem (private, keep it secret) and KEY.pub.pem (public, to be trusted)."""
    from app.services.skills.keys import ALGORITHMS, generate_key

    if algorithm not in ALGORITHMS:
        raise _fail(f"--algorithm must be one of {', '.join(ALGORITHMS)}")
    public_path = out.with_name(out.name.removesuffix(".pem") + ".pub.pem")
    for path in (out, public_path):
        if path.exists() and not force:
            raise _fail(f"{path} exists; use --force to overwrite it")
    private_pem, public_pem = generate_key(cast(Algorithm, algorithm))
    out.touch(mode=0o600, exist_ok=True)
    out.chmod(0o600)
    out.write_text(private_pem)
    public_path.write_text(public_pem)
    typer.echo(f"wrote {out} (private, {algorithm}) and {public_path} (public)")
    typer.echo("Trust it on the server with SKILL_TRUST_POLICY, for example:")
    policy = {"trustedPublishers": [{"id": "<publisher id>", "publicKeys": [public_pem]}]}
    typer.echo(json.dumps(policy))


@skill_cli.command("sign")
def skill_sign(
    manifest: Annotated[Path, typer.Argument(help="manifest JSON (any existing signature is replaced)")],
    key: Annotated[Path, typer.Option(help="private key PEM (from `skill keygen`)")],
    key_id: Annotated[str | None, typer.Option(help="signature.keyId")] = None,
    expires_in_days: Annotated[int | None, typer.Option(min=1, help="set signature.expiresAt")] = None,
    output: Annotated[Path | None, typer.Option(help="write here instead of standard output")] = None,
) -> None:
    """Sign a manifest with the original signature format; prints the signed manifest JSON."""
    from app.services.kernel.json_writer import CanonicalizationError
    from app.services.skills.signing import sign_manifest

    document = _read_json(manifest)
    now = datetime.now(UTC)
    expires = now + timedelta(days=expires_in_days) if expires_in_days else None
    try:
        signed = sign_manifest(
            document,
            key.read_bytes(),
            key_id=key_id,
            issued_at=_js_instant(now),
            expires_at=_js_instant(expires) if expires else None,
        )
    except OSError as error:
        raise _fail(f"cannot read {key}: {error.strerror}") from None
    except (CanonicalizationError, ValueError) as error:
        raise _fail(str(error)) from None
    text = json.dumps(signed, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        typer.echo(f"wrote {output} (manifestDigest {_digest(signed)})", err=True)


@skill_cli.command("verify")
def skill_verify(
    manifest: Annotated[Path, typer.Argument(help="signed manifest JSON")],
    artifact_digest: Annotated[str | None, typer.Option(help="default: the manifest's artifact.digest")] = None,
) -> None:
    """Verify a signed manifest against this server's trust policy (SKILL_TRUST_POLICY[_FILE]); exit 1 on issues."""
    from app.services.skills.registry import load_trust_policy, server_facts
    from app.services.skills.verification import verify_manifest

    document = _read_json(manifest)
    settings = _settings()
    try:
        policy = load_trust_policy(settings)
    except ConfigurationError as error:
        raise _fail(str(error)) from None
    skill: dict[str, Any] = document["skill"] if isinstance(document.get("skill"), dict) else {}
    artifact: dict[str, Any] = document["artifact"] if isinstance(document.get("artifact"), dict) else {}
    report = verify_manifest(
        document,
        skill_key=str(skill.get("key", "")),
        version=str(skill.get("version", "")),
        artifact_digest=artifact_digest or str(artifact.get("digest", "")),
        policy=policy,
        server=server_facts(),
        now=datetime.now(UTC),
    )
    typer.echo(f"manifestDigest: {report.manifest_digest}")
    for issue in report.issues:
        typer.echo(f"{issue.code}: {issue.message}")
    if report.issues:
        raise typer.Exit(code=1)
    typer.echo("verified")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise _fail(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise _fail(f"{path} is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise _fail(f"{path} must hold a JSON object")
    return document


def _js_instant(value: datetime) -> str:
    """Like JavaScript's Date.prototype.toISOString: 2026-05-01T12:00:00.000Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _digest(document: dict[str, Any]) -> str:
    from app.services.skills.signing import manifest_digest

    return manifest_digest(document)


if __name__ == "__main__":
    cli()
