"""Transport: contracts become a Strawberry schema; errors and the request context."""
