"""Password guessing on the chat's login is slowed per client address: a doubling delay, then a lockout,
answered at once with 429 + Retry-After while the chat keeps serving everyone else; logs never hold a password."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from rag.llm.scripted import ScriptedBackend
from tests.conftest import free_port
from ui.app import AppConfig, build_app, launch
from ui.engine import Engine
from ui.throttle import LoginThrottle, LoginThrottleMiddleware, ThrottlePolicy, client_key

pytestmark = pytest.mark.reliability

USER, PASSWORD, WRONG = "alice", "correct horse battery", "hunter2-wrong"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fail(throttle: LoginThrottle, clock: FakeClock, address: str = "10.0.0.1") -> float:
    """One admitted, failed attempt; then the clock moves to the moment the next one is allowed."""
    assert throttle.admit(address) == 0.0
    failure = throttle.failed(address)
    clock.advance(failure.wait)
    return failure.wait


# --- the pure throttle, on a fake clock ---------------------------------------------------------------------


def test_delay_doubles_from_half_a_second_up_to_the_cap_then_locks_out() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(ThrottlePolicy(), clock=clock)
    waits = [fail(throttle, clock) for _ in range(10)]
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 300.0]
    assert throttle.failures("10.0.0.1") == 10


def test_an_address_waits_its_delay_and_other_addresses_do_not() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(ThrottlePolicy(first_delay=0.5), clock=clock)
    assert throttle.admit("10.0.0.1") == 0.0
    throttle.failed("10.0.0.1")
    assert throttle.admit("10.0.0.1") == pytest.approx(0.5)
    clock.advance(0.2)
    assert throttle.admit("10.0.0.1") == pytest.approx(0.3)
    assert throttle.admit("10.0.0.2") == 0.0  # another address is untouched
    clock.advance(0.3)
    assert throttle.admit("10.0.0.1") == 0.0


def test_lockout_after_ten_failures_refuses_every_try_until_it_passes() -> None:
    clock = FakeClock()
    policy = ThrottlePolicy(lockout_after=10, lockout_seconds=300)
    throttle = LoginThrottle(policy, clock=clock)
    for _ in range(9):
        fail(throttle, clock)
    assert throttle.admit("10.0.0.1") == 0.0
    failure = throttle.failed("10.0.0.1")
    assert failure.locked_out and failure.failures == 10 and failure.wait == 300
    for k in range(1, 6):
        clock.advance(50)
        assert throttle.admit("10.0.0.1") == pytest.approx(300 - 50 * k)
    clock.advance(50)
    assert throttle.admit("10.0.0.1") == 0.0
    again = throttle.failed("10.0.0.1")  # still no success: the next failure locks again at once
    assert again.locked_out and again.wait == 300


def test_success_resets_the_count() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(ThrottlePolicy(), clock=clock)
    for _ in range(5):
        fail(throttle, clock)
    assert throttle.admit("10.0.0.1") == 0.0
    assert throttle.succeeded("10.0.0.1") == 5
    assert throttle.failures("10.0.0.1") == 0 and len(throttle) == 0
    assert fail(throttle, clock) == 0.5  # back to the first delay


def test_one_attempt_in_flight_per_address() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(ThrottlePolicy(first_delay=0.5), clock=clock)
    assert throttle.admit("10.0.0.1") == 0.0
    assert throttle.admit("10.0.0.1") == 0.5  # a parallel guess waits for the first to settle
    throttle.release("10.0.0.1")  # neither success nor failure (e.g. a server error): nothing counted
    assert throttle.failures("10.0.0.1") == 0 and len(throttle) == 0
    assert throttle.admit("10.0.0.1") == 0.0


def test_idle_addresses_are_forgotten_and_memory_is_bounded() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(ThrottlePolicy(forget_after=3600, max_addresses=3), clock=clock)
    for _ in range(3):
        fail(throttle, clock)
    clock.advance(3600)
    assert throttle.admit("10.0.0.1") == 0.0
    assert throttle.failed("10.0.0.1").failures == 1  # an hour idle: starts again from zero
    for n in range(2, 8):
        fail(throttle, clock, f"10.0.0.{n}")
    assert len(throttle) <= 3


def test_client_key_groups_an_ipv6_host_by_its_64() -> None:
    assert client_key("192.0.2.7") == "192.0.2.7"
    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key(None) == "unknown"


@pytest.mark.parametrize("bad", [{"first_delay": 0.0}, {"first_delay": 5.0, "max_delay": 1.0}, {"lockout_after": 0}])
def test_policy_rejects_nonsense(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ThrottlePolicy(**bad)


# --- the middleware on a stand-in login route, in-process ---------------------------------------------------


async def fake_login(request: Request) -> JSONResponse:
    form = await request.form()
    if form.get("username") == USER and form.get("password") == PASSWORD:
        return JSONResponse({"success": True})
    return JSONResponse({"detail": "Incorrect credentials."}, status_code=400)


def stand_in(policy: ThrottlePolicy) -> TestClient:
    throttle = LoginThrottle(policy)
    app = Starlette(
        routes=[Route("/login", fake_login, methods=["POST"]), Route("/", lambda _: JSONResponse({}))],
        middleware=[Middleware(LoginThrottleMiddleware, throttle=throttle)],
    )
    return TestClient(app)


def test_middleware_logs_user_address_and_count_never_the_password(caplog: pytest.LogCaptureFixture) -> None:
    client = stand_in(ThrottlePolicy(first_delay=60, max_delay=60))
    with caplog.at_level(logging.DEBUG, logger="ui.throttle"):
        first = client.post("/login", files={"username": (None, USER), "password": (None, WRONG)})  # multipart
        second = client.post("/login", data={"username": USER, "password": WRONG})
    assert first.status_code == 400
    assert second.status_code == 429 and second.headers["Retry-After"] == "60"
    failures = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(failures) == 1
    text = failures[0].getMessage()
    assert "'alice'" in text and "testclient" in text and "1 in a row" in text
    assert all(WRONG not in r.getMessage() for r in caplog.records)
    assert client.get("/").status_code == 200  # other routes are never throttled


def test_middleware_refuses_an_oversized_form_without_reading_on() -> None:
    client = stand_in(ThrottlePolicy())
    response = client.post("/login", data={"username": USER, "password": "x" * 40_000})
    assert response.status_code == 413


# --- the real chat on loopback ------------------------------------------------------------------------------

POLICY = ThrottlePolicy(first_delay=0.2, max_delay=0.4, lockout_after=4, lockout_seconds=3.0)


@pytest.fixture()
def chat_with_login(small_index: Path, tmp_path: Path) -> Iterator[str]:
    index = small_index
    engine = Engine(index, backend=ScriptedBackend("Anchorage [1].", name="scripted"))
    app = build_app(engine, AppConfig(index_dir=index, feedback_path=tmp_path / "feedback.jsonl"))
    try:
        yield launch(app, port=free_port(), auth=(USER, PASSWORD), block=False, login_throttle=POLICY)
    finally:
        app.close()


def login(client: httpx.Client, password: str) -> httpx.Response:
    return client.post("/login", data={"username": USER, "password": password})


def guess_until_locked_out(client: httpx.Client) -> list[int]:
    """Wrong passwords, honouring each 429's wait, until the lockout: at most 30 requests and 15 s."""
    statuses: list[int] = []
    deadline = time.monotonic() + 15
    for _ in range(30):
        assert time.monotonic() < deadline, statuses
        response = login(client, WRONG)
        statuses.append(response.status_code)
        if response.status_code == 429:
            wait = float(response.json()["retry_after"])
            if wait > POLICY.max_delay:  # no longer a delay: the lockout
                return statuses
            time.sleep(wait)
    raise AssertionError(f"no lockout after {len(statuses)} requests: {statuses}")


@pytest.mark.integration
def test_the_chat_throttles_then_locks_out_a_guessing_address_and_serves_others(chat_with_login: str) -> None:
    url = chat_with_login
    timeout = httpx.Timeout(5.0)
    with httpx.Client(base_url=url, timeout=timeout) as user, httpx.Client(base_url=url, timeout=timeout) as attacker:
        assert login(user, PASSWORD).status_code == 200  # a user signs in before the attack
        assert user.get("/config").status_code == 200

        first = login(attacker, WRONG)
        assert first.status_code == 400
        throttled = login(attacker, WRONG)  # at once: inside the 0.2 s delay
        assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"

        statuses = guess_until_locked_out(attacker)
        assert statuses.count(400) == POLICY.lockout_after - 1 and statuses[-1] == 429
        locked = login(attacker, PASSWORD)  # the right password is refused too: the address is locked out
        assert locked.status_code == 429
        assert int(locked.headers["Retry-After"]) == 3
        locked_at = time.monotonic()

        started = time.monotonic()
        assert user.get("/config").status_code == 200  # the signed-in user is served meanwhile
        assert httpx.get(url, timeout=timeout).status_code == 200  # and the login page for anyone
        assert time.monotonic() - started < 2.0

        time.sleep(max(0.0, POLICY.lockout_seconds - (time.monotonic() - locked_at)) + 0.2)
        assert login(attacker, PASSWORD).status_code == 200  # lockout over: the right password works
        assert attacker.get("/config").status_code == 200
        assert login(attacker, WRONG).status_code == 400  # and the count starts again from zero


@pytest.mark.integration
def test_the_lockout_is_per_address(chat_with_login: str) -> None:
    url = chat_with_login
    try:  # Linux answers for all of 127/8 on loopback; elsewhere this case cannot be staged
        with socket.socket() as probe:
            probe.bind(("127.0.0.2", 0))
    except OSError:
        pytest.skip("cannot bind 127.0.0.2")
    other = httpx.HTTPTransport(local_address="127.0.0.2")
    with (
        httpx.Client(base_url=url, timeout=5.0) as attacker,
        httpx.Client(base_url=url, timeout=5.0, transport=other) as neighbour,
    ):
        guess_until_locked_out(attacker)
        assert login(attacker, PASSWORD).status_code == 429
        assert login(neighbour, PASSWORD).status_code == 200
