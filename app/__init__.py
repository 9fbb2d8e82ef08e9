"""Contract-first GraphQL control plane for agent and workflow executions."""

__version__ = "0.1.0"
