"""Control-plane commands (GraphQL mutations), one module per contract.

Discovered by app.contracts.control_plane.contract_modules(); nothing to list here."""
