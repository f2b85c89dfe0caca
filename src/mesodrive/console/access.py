"""The access token, in front of everything the server offers (pages, assets, websocket).

A request is let in if its query carries `token=` (the address `mesodrive console` prints) or
its cookie does (set on that first request, HttpOnly and SameSite=Strict, so the page's own
asset and websocket requests carry it and another site's page cannot). Anything else gets a
403 with a sentence saying what to do, and reaches nothing: no page, no websocket, no handler,
so nothing can move. The comparison is constant-time.
"""

from __future__ import annotations

import hmac
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "mesodrive_console"
REFUSAL = (b"403 Forbidden: this console needs its access token. Open the address that "
           b"`mesodrive console` printed (it ends in ?token=...).\n")


def _query_token(scope: Scope) -> str:
    query = scope.get("query_string", b"").decode("latin-1")
    values = urllib.parse.parse_qs(query).get("token", [])
    return values[0] if values else ""


def _cookie_token(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # noqa: BLE001 - a malformed cookie header is just no token
                return ""
            morsel = jar.get(COOKIE)
            return morsel.value if morsel is not None else ""
    return ""


class TokenGate:
    """ASGI middleware: the token, or a 403 that reaches nothing behind it."""

    def __init__(self, app: ASGIApp, token: str, *, secure: bool = False) -> None:
        self.app = app
        self._token = token.encode()
        self._secure = secure

    def _matches(self, candidate: str) -> bool:
        return bool(candidate) and hmac.compare_digest(candidate.encode(), self._token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)  # lifespan
            return
        by_query = self._matches(_query_token(scope))
        if not by_query and not self._matches(_cookie_token(scope)):
            await self._refuse(scope, send)
            return
        if not by_query or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = (f"{COOKIE}={self._token.decode()}; Path=/; HttpOnly; SameSite=Strict"
                  + ("; Secure" if self._secure else ""))

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []),
                                      (b"set-cookie", cookie.encode())]
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    @staticmethod
    async def _refuse(scope: Scope, send: Send) -> None:
        if scope["type"] == "websocket":
            # Closing before accepting: the server answers the upgrade with 403.
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(REFUSAL)).encode()),
                                (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": REFUSAL})
