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

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python scripts/vendor_axe.py`: make `scripts` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.vendor_graphiql import ROOT, Package, command_line

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
    return command_line(
        argv,
        description=__doc__.split("\n\n")[0],
        target=VENDOR_DIR,
        packages=PACKAGES,
        generated_by="scripts/vendor_axe.py",
        what="axe-core files",
    )


if __name__ == "__main__":
    sys.exit(main())
