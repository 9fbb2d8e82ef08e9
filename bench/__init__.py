"""Benchmarks of the control plane, run from the repository root as modules: `python -m bench.reject`,
`python -m bench.scale`, `python -m bench.lifecycle` (see bench/README.md). What they share is in bench/kit/."""
