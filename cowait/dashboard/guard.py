"""Who may talk to the dashboard: requests to 127.0.0.1 or localhost with the token, nothing else.

The link the CLI prints carries the token once (``/?token=...``); the answer sets it as a cookie
(HttpOnly, SameSite=Strict: other sites' pages cannot send it) and redirects to a URL without it.
Scripts may send ``Authorization: Bearer <token>`` instead. The Host header is checked too, so a
page on another name that resolves to 127.0.0.1 (DNS rebinding) is refused. Every answer carries a
strict Content-Security-Policy: the page runs only its own script.
"""

from __future__ import annotations

import hmac
from http.cookies import SimpleCookie
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
#: Executed notebooks: no script, nothing fetched, their own inline styles, shown only in our frame.
NOTEBOOK_POLICY = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
LOOPBACK_NAMES = ("127.0.0.1", "localhost")


def cookie_name(port: int) -> str:
    """The cookie of the dashboard on ``port`` (cookies ignore ports: two dashboards keep theirs apart)."""
    return f"cowait_token_{port}"


class TokenGuard:
    """ASGI middleware: the Host check, the token check and the security headers."""

    def __init__(self, app: Callable[..., Awaitable[None]], token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        port = scope["server"][1] if scope.get("server") else 0
        host, _, host_port = headers.get("host", "").rpartition(":")
        if host not in LOOPBACK_NAMES or host_port != str(port):
            return await _plain(send, 421, "this dashboard answers only at 127.0.0.1 or localhost")
        origin = headers.get("origin")
        if origin is not None and origin not in (f"http://{name}:{port}" for name in LOOPBACK_NAMES):
            return await _plain(send, 403, "requests from other sites are refused")
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if scope["path"] == "/" and "token" in query:
            if not self._matches(query["token"][0]):
                return await _plain(send, 401, "wrong token: open the link 'cowait dashboard' printed")
            return await _redirect_with_cookie(send, port, self.token)
        if not self._matches(self._presented(headers, port)):
            return await _plain(send, 401, "token required: open the link 'cowait dashboard' printed")

        async def secured(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                         (b"cache-control", b"no-store")]
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", PAGE_POLICY.encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, secured)

    def _presented(self, headers: dict[str, str], port: int) -> str:
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            return authorization[7:].strip()
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed Cookie header is no token
            return ""
        morsel = cookies.get(cookie_name(port))
        return morsel.value if morsel is not None else ""

    def _matches(self, presented: str) -> bool:
        return bool(presented) and hmac.compare_digest(presented.encode(), self.token.encode())


async def _plain(send: Send, status: int, text: str) -> None:
    body = (text + "\n").encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                            (b"content-security-policy", b"default-src 'none'"), (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})


async def _redirect_with_cookie(send: Send, port: int, token: str) -> None:
    cookie = f"{cookie_name(port)}={token}; Path=/; HttpOnly; SameSite=Strict"
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", b"/"), (b"set-cookie", cookie.encode()), (b"content-length", b"0"),
                            (b"referrer-policy", b"no-referrer"), (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": b""})
