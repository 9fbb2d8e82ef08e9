"""Vendor axe-core (test only) from its pinned npm package into tests/vendor/axe/, as GraphiQL's
assets are vendored (scripts/vendor_graphiql.py: registry integrity checked against the pin, the
tarball's sha512 against both, only the listed file plus the licence extracted, a manifest with
every file's digest).

    .venv/bin/python scripts/vendor_axe.py           # download, verify, extract, write the manifest
    .venv/bin/python scripts/vendor_axe.py --check   # offline: the vendored files match the manifest

tests/e2e/test_console.py injects axe.min.js into each console page (from the test, never served by
the control plane) and asserts no serious or critical violation. To move to another version: change
`version` and `integrity` together (`npm view axe-core@4.14.1 dist.integrity`), run, commit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python scripts/vendor_axe.py`: make `scripts` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.vendor_graphiql import ROOT, Package, VendorError, check, vendor

VENDOR_DIR = ROOT / "tests" / "vendor" / "axe"
PACKAGES = (
    Package(
        "axe-core",
        "4.14.1",
        "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==",
        {"axe.min.js": ("axe.min.js", "script")},
    ),
)


def script_path() -> Path:
    """The vendored axe.min.js."""
    return VENDOR_DIR / f"{PACKAGES[0].directory}/axe.min.js"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="verify the vendored files offline, change nothing")
    arguments = parser.parse_args(argv)
    if arguments.check:
        problems = check(VENDOR_DIR, PACKAGES)
        for problem in problems:
            print(problem, file=sys.stderr)
        print("ok: the vendored axe-core matches the manifest" if not problems else "vendored axe-core differs")
        return 1 if problems else 0
    try:
        entries = vendor(VENDOR_DIR, PACKAGES, "scripts/vendor_axe.py")
    except (VendorError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for entry in entries:
        paths = ", ".join(file["path"] for file in entry["files"])
        print(f"  {entry['name']}@{entry['version']} ({entry['license']}): {paths}")
    print(f"wrote {VENDOR_DIR.relative_to(ROOT)}/manifest.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
