"""Slow down password guessing on the chat's login: a growing delay per client address, then a lockout.

`LoginThrottle` holds the counts and the clock and does no I/O. `LoginThrottleMiddleware` is the ASGI seam:
it watches `POST /login` on Gradio's FastAPI app, answers a throttled or locked-out address at once with
HTTP 429 and a Retry-After header (no sleeping: the event loop and the other users never wait), and logs
failures with the user name, the address and the count, never the password.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

LOGIN_PATHS = frozenset({"/login", "/login/"})  # gradio.routes: the login form posts here
MAX_LOGIN_BODY = 16 * 1024  # a login form is a user name and a password


@dataclass(frozen=True)
class ThrottlePolicy:
    """After failure n (n < lockout_after) the address waits first_delay * 2**(n-1), at most max_delay;
    the lockout_after-th failure in a row locks it out for lockout_seconds, and so does every further
    failure until a login succeeds. An address idle for forget_after seconds starts again from zero."""

    first_delay: float = 0.5
    max_delay: float = 30.0
    lockout_after: int = 10
    lockout_seconds: float = 300.0
    forget_after: float = 3600.0
    max_addresses: int = 10_000  # bounded memory when many addresses fail

    def __post_init__(self) -> None:
        if not (0 < self.first_delay <= self.max_delay and self.lockout_seconds > 0):
            raise ValueError("throttle delays must be positive, with first_delay <= max_delay")
        if self.lockout_after < 1 or self.max_addresses < 1 or self.forget_after <= 0:
            raise ValueError("lockout_after, max_addresses and forget_after must be positive")

    def wait_after(self, failures: int) -> float:
        """Seconds an address waits after its `failures`-th failure in a row."""
        if failures >= self.lockout_after:
            return self.lockout_seconds
        return min(self.first_delay * 2.0 ** min(max(failures - 1, 0), 64), self.max_delay)


@dataclass
class _Entry:
    failures: int = 0
    blocked_until: float = 0.0
    in_flight: bool = False
    last_seen: float = 0.0


@dataclass(frozen=True)
class Failure:
    failures: int  # in a row from this address
    wait: float  # seconds until the address may try again
    locked_out: bool


class LoginThrottle:
    """Per-address login bookkeeping. Call `admit` before checking a password; when it returns 0 the
    attempt is in flight and must be settled with `failed`, `succeeded` or `release`. One attempt at a
    time per address, so parallel guesses do not slip past the delay. Thread-safe; no I/O, no sleeping."""

    def __init__(self, policy: ThrottlePolicy | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy or ThrottlePolicy()
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def admit(self, address: str) -> float:
        """0.0: go ahead (now in flight); otherwise the seconds this address must wait."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(address)
            if entry is None:
                self._make_room(now)
                entry = self._entries[address] = _Entry(last_seen=now)
            elif self._stale(entry, now):
                entry.failures, entry.blocked_until = 0, 0.0
            if entry.in_flight:
                return self.policy.first_delay
            if entry.blocked_until > now:
                return entry.blocked_until - now
            entry.in_flight, entry.last_seen = True, now
            self._entries.move_to_end(address)
            return 0.0

    def failed(self, address: str) -> Failure:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(address)
            if entry is None:
                self._make_room(now)
                entry = self._entries[address] = _Entry()
            entry.in_flight, entry.last_seen = False, now
            entry.failures += 1
            wait = self.policy.wait_after(entry.failures)
            entry.blocked_until = now + wait
            self._entries.move_to_end(address)
            return Failure(entry.failures, wait, entry.failures >= self.policy.lockout_after)

    def succeeded(self, address: str) -> int:
        """Forget the address; returns how many failures in a row it had."""
        with self._lock:
            entry = self._entries.pop(address, None)
            return entry.failures if entry else 0

    def release(self, address: str) -> None:
        """Settle an attempt that was neither a success nor a failure (a server error, a bad request)."""
        with self._lock:
            entry = self._entries.get(address)
            if entry is None:
                return
            entry.in_flight = False
            if entry.failures == 0:
                del self._entries[address]

    def failures(self, address: str) -> int:
        with self._lock:
            entry = self._entries.get(address)
            return entry.failures if entry else 0

    def __len__(self) -> int:
        return len(self._entries)

    def _stale(self, entry: _Entry, now: float) -> bool:
        return not entry.in_flight and entry.blocked_until <= now and now - entry.last_seen >= self.policy.forget_after

    def _make_room(self, now: float) -> None:
        if len(self._entries) < self.policy.max_addresses:
            return
        for address in [a for a, e in self._entries.items() if self._stale(e, now)]:
            del self._entries[address]
        while len(self._entries) >= self.policy.max_addresses:  # least recently seen first
            self._entries.popitem(last=False)


def client_key(host: str | None) -> str:
    """The throttle's key for a client: its IPv4 address, or its IPv6 /64 (one host holds a whole /64)."""
    if not host:
        return "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def retry_after_header(wait: float) -> str:
    return str(max(1, math.ceil(wait)))


class LoginThrottleMiddleware:
    """ASGI middleware for Gradio's app: throttles `POST /login` by client address (the peer address,
    or the X-Forwarded-For client uvicorn accepted from a trusted local proxy)."""

    def __init__(self, app: ASGIApp, throttle: LoginThrottle) -> None:
        self.app = app
        self.throttle = throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or _route_path(scope) not in LOGIN_PATHS:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client_key(client[0] if client else None)
        wait = self.throttle.admit(address)
        if wait > 0:
            logger.debug("login from %s refused for %.1f s more (throttled)", address, wait)
            await _too_many(wait)(scope, receive, send)
            return
        status = 0
        user = "?"
        try:
            body = await _read_body(receive, MAX_LOGIN_BODY)
            if body is None:
                await PlainTextResponse("Login form too large.", status_code=413)(scope, receive, send)
                return
            user = await _username(scope, body)

            async def watch(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                await send(message)

            await self.app(scope, _replay(body, receive), watch)
        finally:
            self._settle(address, user, status)

    def _settle(self, address: str, user: str, status: int) -> None:
        if 200 <= status < 300:
            before = self.throttle.succeeded(address)
            if before:
                logger.info("login for user %r from %s succeeded after %d failures", user, address, before)
        elif 400 <= status < 500:
            failure = self.throttle.failed(address)
            if failure.locked_out:
                logger.warning(
                    "failed login for user %r from %s (%d in a row): address locked out for %.0f s",
                    user,
                    address,
                    failure.failures,
                    failure.wait,
                )
            else:
                logger.warning(
                    "failed login for user %r from %s (%d in a row): next try in %.1f s",
                    user,
                    address,
                    failure.failures,
                    failure.wait,
                )
        else:
            self.throttle.release(address)


def _route_path(scope: Scope) -> str:
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(root) else path


def _too_many(wait: float) -> JSONResponse:
    seconds = retry_after_header(wait)
    return JSONResponse(
        {"detail": f"Too many failed logins from this address; try again in {seconds} s.", "retry_after": wait},
        status_code=429,
        headers={"Retry-After": seconds},
    )


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            break
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def _username(scope: Scope, body: bytes) -> str:
    """The user name of a login form, for the log (the password is never read out of the form)."""
    try:
        form: FormData = await Request(scope, _replay(body, _disconnected)).form(max_files=0, max_fields=8)
    except (HTTPException, ValueError, UnicodeError):
        return "?"
    name = form.get("username")
    return name.strip()[:64] if isinstance(name, str) else "?"


async def _disconnected() -> Message:
    return {"type": "http.disconnect"}
