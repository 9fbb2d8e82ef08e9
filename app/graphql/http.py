"""The GraphQL HTTP endpoint (POST, GET for queries, GraphiQL for browsers), following the
GraphQL-over-HTTP specification: media type negotiation (406), content types (415), mutations over
GET (405), request errors as 400 with `application/graphql-response+json`, no batching."""

from __future__ import annotations

import json
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, GraphQLRequestProtocol
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from app.auth import TokenService
from app.contracts.executor import Executor
from app.graphql.context import Context
from app.graphql.graphiql import GraphiQLPage, websocket_origin
from app.graphql.ws import Connections, SocketLimits, TransportWSHandler

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
_UTF8 = ("utf-8", "utf8")


def negotiate(accept: str | None) -> str | None:
    """The response media type for an `Accept` header, or None when it allows neither.

    No `Accept` (or only `*/*` / `application/*`) means a legacy client: `application/json`."""
    if accept is None or not accept.strip():
        return JSON
    candidates: list[tuple[float, int, str]] = []
    for index, item in enumerate(accept.split(",")):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            name, value = name.strip().lower(), value.strip().strip('"').lower()
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
            elif name == "charset" and value not in _UTF8:
                quality = 0.0
        media = media.lower()
        if quality <= 0:
            continue
        if media == GRAPHQL_RESPONSE_JSON:
            candidates.append((-quality, index, GRAPHQL_RESPONSE_JSON))
        elif media in (JSON, "application/*", "*/*"):
            candidates.append((-quality, index, JSON))
    return min(candidates)[2] if candidates else None


def is_request_error_result(result: ExecutionResult) -> bool:
    """No data and only errors without a path: the request failed before execution (parse, validation,
    limits, variable coercion). Field errors always have a path."""
    errors = result.errors or []
    return result.data is None and bool(errors) and all(error.path is None for error in errors)


def error_response(
    status: int, message: str, media_type: str = JSON, headers: dict[str, str] | None = None
) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT"}}]}
    return Response(json.dumps(body), status_code=status, media_type=media_type, headers=headers)


class GraphQLApp(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler

    def __init__(
        self,
        schema: BaseSchema,
        *,
        executor: Executor[Any],
        tokens: TokenService,
        graphiql: GraphiQLPage | None = None,
        socket_limits: SocketLimits | None = None,
        **options: Any,
    ) -> None:
        """`graphiql`: the page a browser's GET gets (assets served by this server); None = no GraphiQL.
        Subscriptions: graphql-transport-ws only (app/graphql/ws.py), with `socket_limits`."""
        self.socket_limits = socket_limits or SocketLimits()
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            max_subscriptions_per_connection=self.socket_limits.max_subscriptions_per_connection,
            **options,
        )
        self.executor = executor
        self.tokens = tokens
        self.graphiql = graphiql
        self.connections = Connections()

    async def render_graphql_ide(self, request: Request) -> Response:
        assert self.graphiql is not None  # Strawberry renders the IDE only when graphql_ide is set
        return self.graphiql.response(websocket_origin(request.url.scheme, request.headers.get("host", "")))

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        return Context(
            request=request,
            response=response if isinstance(response, Response) else None,
            executor=self.executor,
            tokens=self.tokens,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive=receive)
        response = await self.respond(request)
        await response(scope, receive, send)

    async def respond(self, request: Request) -> Response:
        if request.method in ("GET", "POST") and self.should_render_graphql_ide(self.request_adapter_class(request)):
            return await self._run(request, JSON)
        media_type = negotiate(request.headers.get("accept"))
        if media_type is None:
            return error_response(406, f"Not acceptable: this endpoint answers {GRAPHQL_RESPONSE_JSON} or {JSON}.")
        if request.method == "POST":
            content_type, params = parse_content_type(request.headers.get("content-type", ""))
            if content_type != JSON or params.get("charset", "utf-8").lower() not in _UTF8:
                return error_response(
                    415, f"Unsupported content type: send the GraphQL request as {JSON} (UTF-8).", media_type
                )
        return await self._run(request, media_type)

    async def _run(self, request: Request, media_type: str) -> Response:
        request.state.media_type = media_type
        request.state.request_error = False
        try:
            response = await self.run(request)
        except HTTPException as error:
            if request.method == "GET" and isinstance(error.__cause__, InvalidOperationTypeError):
                return error_response(
                    405, "Only queries may be sent with GET; send mutations with POST.", media_type, {"Allow": "POST"}
                )
            return error_response(error.status_code, error.reason, media_type)
        if response.media_type == JSON or response.headers.get("content-type") == JSON:
            response.headers["content-type"] = media_type
            if media_type == GRAPHQL_RESPONSE_JSON and request.state.request_error and response.status_code == 200:
                response.status_code = 400
        return response

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        if is_request_error_result(result):
            request.state.request_error = True
            if request.state.media_type == GRAPHQL_RESPONSE_JSON:
                # A request error: the spec's response has no `data` entry at all.
                response.pop("data", None)
        return response

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        try:
            return await super().parse_http_body(request)
        except AttributeError as error:  # a JSON body that is neither an object nor a list
            raise HTTPException(400, "The request body must be a JSON object with a `query`.") from error

    def encode_json(self, data: object) -> str:
        """The response body: orjson (a 50-item page in a tenth of json.dumps' time), compact like Strawberry's
        json.dumps, UTF-8 instead of `\\u` escapes. What orjson refuses (an integer beyond 64 bits or a
        non-string key in a `JSON` value) goes through json.dumps as before. A str, not bytes: WebSocket
        messages are encoded here too, and must stay text frames."""
        try:
            return orjson.dumps(data).decode()
        except TypeError:
            return json.dumps(data, separators=(",", ":"))

    def decode_json(self, data: str | bytes) -> object:
        try:
            return json.loads(data)
        except json.JSONDecodeError:
            raise  # answered 400 by strawberry
        except (ValueError, RecursionError) as error:  # an integer of over 4300 digits; nesting too deep
            raise HTTPException(400, "Unable to parse request body as JSON: a number too long or too deep.") from error

    def _validate_batch_request(self, request_data: list[GraphQLRequestData], protocol: GraphQLRequestProtocol) -> None:
        raise HTTPException(400, "Batched requests are not supported: send one GraphQL operation per request.")


__all__ = ["GRAPHQL_RESPONSE_JSON", "JSON", "GraphQLApp", "negotiate"]
