"""Contracts: the declared surface of the control plane, its registry and its executor."""
