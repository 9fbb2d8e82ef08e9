"""Identity: a bearer token becomes a Principal (id, roles, workspace grants); nothing else decides
who you are. `principal` is what every layer sees; `tokens` and `jwks` verify tokens."""

from app.auth.principal import ALL_WORKSPACES, ROLE_LEVELS, AuthLevel, Principal
from app.auth.tokens import ClaimNames, TokenService, token_service_from_settings

__all__ = [
    "ALL_WORKSPACES",
    "ROLE_LEVELS",
    "AuthLevel",
    "ClaimNames",
    "Principal",
    "TokenService",
    "token_service_from_settings",
]
