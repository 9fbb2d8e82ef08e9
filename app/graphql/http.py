"""The GraphQL HTTP endpoint (POST, GET for queries, GraphiQL for browsers)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema

from app.auth import TokenService
from app.contracts.executor import Executor
from app.graphql.context import Context


class GraphQLApp(GraphQL[Context, None]):
    def __init__(self, schema: BaseSchema, *, executor: Executor, tokens: TokenService, **options: Any) -> None:
        super().__init__(schema, **options)
        self.executor = executor
        self.tokens = tokens

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        return Context(
            request=request,
            response=response if isinstance(response, Response) else None,
            executor=self.executor,
            tokens=self.tokens,
        )
