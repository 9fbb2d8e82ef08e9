"""Subscription contracts: one module per contract, each a `Subscription` field (graphql-transport-ws)."""
