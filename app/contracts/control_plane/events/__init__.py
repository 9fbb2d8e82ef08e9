"""Control-plane events, appended to the event log (audit and outbox); one module per contract.

Discovered by app.contracts.control_plane.contract_modules(); nothing to list here."""
