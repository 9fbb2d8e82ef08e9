"""What clients of the control plane share with its tests and benchmarks, as `starlette.testclient` or
`strawberry.test` ship with their packages: GraphQL documents that drive the public API.

Nothing here reaches into the server: it is a client of the public API only (tests/unit/test_layers.py).
"""
