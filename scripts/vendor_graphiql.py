"""Vendor GraphiQL's browser assets and graphql-ws from pinned npm packages into app/static/graphiql/vendor/.

    .venv/bin/python scripts/vendor_graphiql.py           # download, verify, extract, write the manifest
    .venv/bin/python scripts/vendor_graphiql.py --check   # offline: the vendored files match the manifest

For each package below the script asks the npm registry for that exact version, refuses it unless
the registry's `dist.integrity` equals the sha512 pinned here, downloads the tarball, checks the
tarball's own sha512 against both, and extracts only the listed files plus the package's licence.
`manifest.json` records package, version, integrity, licence and a digest of every file (sha256,
and the sha384 the page puts in each tag's `integrity` attribute). The result is committed, so the
server never needs the network to serve GraphiQL.

To move to another version: change `version` and `integrity` together (the new integrity is the
registry's `dist.integrity` of that version, e.g. `npm view graphiql@3.8.3 dist.integrity`), run the
script, look at the page in a browser, and commit the new directory.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REGISTRY = "https://registry.npmjs.org"
ROOT = Path(__file__).resolve().parents[1]
VENDOR_DIR = ROOT / "app" / "static" / "graphiql" / "vendor"
MANIFEST = "manifest.json"
LICENCE_NAMES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE", "license", "license.md")
TIMEOUT = 60.0


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str
    """The registry's `dist.integrity` of this exact version (sha512, base64), pinned here."""
    files: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Path inside the tarball's `package/` -> (file name in the vendored directory, kind), where kind
    is `script` or `stylesheet`: the page loads them in this file's order."""

    @property
    def directory(self) -> str:
        return f"{self.name.replace('/', '-').lstrip('@')}-{self.version}"


# GraphiQL 3.x ships a prebuilt browser bundle (graphiql.min.js, React and ReactDOM as globals) usable
# without a bundler; React 18 UMD builds provide those globals. Order matters: React first.
PACKAGES = (
    Package(
        "react",
        "18.3.1",
        "sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ==",
        {"umd/react.production.min.js": ("react.production.min.js", "script")},
    ),
    Package(
        "react-dom",
        "18.3.1",
        "sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw==",
        {"umd/react-dom.production.min.js": ("react-dom.production.min.js", "script")},
    ),
    # The graphql-transport-ws client GraphiQL's fetcher uses for subscriptions (start.js): its UMD
    # build defines the global `graphqlWs` and needs nothing else at runtime.
    Package(
        "graphql-ws",
        "6.4.2",
        "sha512-wxhPhhOGJo8PbGDkBYVE76sZLDrS+GkyrR4bZECSLVbo0pZZNKs0HtBh2Ip/uaUuiVUxwO9ssI9R92buQfNSqQ==",
        {"umd/graphql-ws.min.js": ("graphql-ws.min.js", "script")},
    ),
    Package(
        "graphiql",
        "3.8.3",
        "sha512-cuPDYtXVKV86Pu5PHBX642Odi/uVEE2y1Jxq5rGO/Qy1G2lRp7ZZ7a/T30RzxhuLSWo9zUbzq0P3U49//H0Ugw==",
        {
            "graphiql.min.css": ("graphiql.min.css", "stylesheet"),
            "graphiql.min.js": ("graphiql.min.js", "script"),
        },
    ),
)


class VendorError(Exception):
    pass


def sri(algorithm: str, data: bytes) -> str:
    """A Subresource Integrity value, as npm's `dist.integrity` and HTML's `integrity` attribute write it."""
    return f"{algorithm}-" + base64.b64encode(hashlib.new(algorithm, data).digest()).decode("ascii")


def _get(url: str) -> bytes:
    if not url.startswith(REGISTRY + "/"):
        raise VendorError(f"refusing to fetch {url}: only {REGISTRY} is used")
    # S310: the URL was just checked to be https on the npm registry.
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "vendor_graphiql"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
        data: bytes = response.read()
        return data


def fetch_tarball(package: Package) -> tuple[str, bytes]:
    """The package's tarball URL and bytes, verified against the registry's integrity and the pinned one."""
    metadata: dict[str, Any] = json.loads(_get(f"{REGISTRY}/{package.name}/{package.version}"))
    dist = metadata.get("dist") or {}
    published = dist.get("integrity")
    if metadata.get("version") != package.version:
        raise VendorError(f"{package.name}: the registry answered version {metadata.get('version')!r}")
    if published != package.integrity:
        raise VendorError(
            f"{package.name}@{package.version}: the registry's dist.integrity {published!r} "
            f"differs from the pinned {package.integrity!r}"
        )
    url = str(dist.get("tarball"))
    tarball = _get(url)
    actual = sri("sha512", tarball)
    if actual != package.integrity:
        raise VendorError(f"{package.name}@{package.version}: the tarball's sha512 {actual} differs from {published}")
    return url, tarball


def extract(package: Package, url: str, tarball: bytes, target: Path) -> dict[str, Any]:
    """Writes the listed files and the licence under target/<directory>/; returns the manifest entry."""
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        members = {member.name: member for member in archive.getmembers() if member.isfile()}

        def read(path: str) -> bytes:
            member = members.get(f"package/{path}")
            if member is None:
                raise VendorError(f"{package.name}@{package.version} has no file {path}")
            stream = archive.extractfile(member)
            assert stream is not None
            return stream.read()

        licence_name = next((name for name in LICENCE_NAMES if f"package/{name}" in members), None)
        if licence_name is None:
            raise VendorError(f"{package.name}@{package.version} has no LICENSE file")
        package_json = json.loads(read("package.json"))
        wanted = {**package.files, licence_name: ("LICENSE", "licence")}
        directory = target / package.directory
        directory.mkdir(parents=True)
        files = []
        for source, (name, kind) in wanted.items():
            data = read(source)
            (directory / name).write_bytes(data)
            files.append(
                {
                    "path": f"{package.directory}/{name}",
                    "source": source,
                    "kind": kind,
                    "bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "sri": sri("sha384", data),
                }
            )
    return {
        "name": package.name,
        "version": package.version,
        "integrity": package.integrity,
        "tarball": url,
        "license": package_json.get("license"),
        "files": files,
    }


def vendor(
    target: Path = VENDOR_DIR,
    packages: tuple[Package, ...] = PACKAGES,
    generated_by: str = "scripts/vendor_graphiql.py",
) -> list[dict[str, Any]]:
    """Builds the whole directory aside, then replaces target with it (nothing half-written on failure).
    scripts/vendor_axe.py uses it for the test-only axe-core."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".vendor-") as scratch:
        staging = Path(scratch) / "vendor"
        staging.mkdir()
        entries = []
        for package in packages:
            print(f"{package.name}@{package.version}: downloading and verifying", flush=True)
            entries.append(extract(package, *fetch_tarball(package), staging))
        manifest = {
            "generatedBy": generated_by,
            "registry": REGISTRY,
            "packages": entries,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    return entries


def check(target: Path = VENDOR_DIR, packages: tuple[Package, ...] = PACKAGES) -> list[str]:
    """Problems with the vendored directory: pins that differ from the manifest, files missing or changed."""
    path = target / MANIFEST
    if not path.is_file():
        return [f"{path} is missing: run scripts/vendor_graphiql.py"]
    manifest = json.loads(path.read_text())
    problems = []
    recorded = [(entry["name"], entry["version"], entry["integrity"]) for entry in manifest["packages"]]
    pinned = [(package.name, package.version, package.integrity) for package in packages]
    if recorded != pinned:
        problems.append(f"the manifest lists {recorded}, the script pins {pinned}: run scripts/vendor_graphiql.py")
    for entry in manifest["packages"]:
        for file in entry["files"]:
            vendored = target / file["path"]
            if not vendored.is_file():
                problems.append(f"{file['path']} is missing")
            elif hashlib.sha256(vendored.read_bytes()).hexdigest() != file["sha256"]:
                problems.append(f"{file['path']} differs from the manifest's sha256")
    return problems


def command_line(
    argv: list[str] | None,
    *,
    description: str,
    target: Path,
    packages: tuple[Package, ...],
    generated_by: str,
    what: str,
) -> int:
    """The command line of a vendoring script: `--check` verifies offline, otherwise it vendors."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="verify the vendored files offline, change nothing")
    arguments = parser.parse_args(argv)
    if arguments.check:
        problems = check(target, packages)
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"ok: the vendored {what} match the manifest" if not problems else f"vendored {what} differ")
        return 1 if problems else 0
    try:
        entries = vendor(target, packages, generated_by)
    except (VendorError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for entry in entries:
        paths = ", ".join(file["path"] for file in entry["files"])
        print(f"  {entry['name']}@{entry['version']} ({entry['license']}): {paths}")
    print(f"wrote {target.relative_to(ROOT)}/{MANIFEST}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return command_line(
        argv,
        description=__doc__.split("\n\n")[0],
        target=VENDOR_DIR,
        packages=PACKAGES,
        generated_by="scripts/vendor_graphiql.py",
        what="GraphiQL assets",
    )


if __name__ == "__main__":
    sys.exit(main())
