"""README documents the state machine and the lane derivations from the code itself."""

from __future__ import annotations

from pathlib import Path

from app.services.lifecycle import lanes
from app.services.lifecycle.state_machine import TRANSITIONS, markdown_table

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_readme_prints_the_transition_table_of_the_code():
    start = README.index("<!-- transitions:start -->\n") + len("<!-- transitions:start -->\n")
    end = README.index("\n<!-- transitions:end -->")
    assert README[start:end] == markdown_table(), "regenerate with app.services.state_machine.markdown_table()"
    assert all(f"| `{action.value}` |" in README for action in TRANSITIONS)


def test_readme_prints_every_lane_derivation():
    assert lanes.__doc__ is not None
    table = lanes.__doc__.split("\n\n", 1)[1].strip()
    assert table in README
