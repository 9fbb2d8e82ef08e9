"""Request ids, structured logs, Prometheus metrics and optional OpenTelemetry tracing.

A transport-level concern: `RequestObserver` (an ASGI middleware, `middleware.py`) opens a
`RequestRecord` for each HTTP request in a context variable (`context.py`); the GraphQL layer fills
it (operation name, contract calls, principal, error codes); at the end of the response the observer
writes one log line, updates the metrics and closes the span. The executor, services and store never
import this package (tests/unit/test_layers.py): what they log carries the request id anyway,
because the log formatter reads the context variable.
"""
