"""Capability control-plane.webhooks: endpoints, signed deliveries of the event log, retries, SSRF rules."""
