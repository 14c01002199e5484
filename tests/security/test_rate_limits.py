"""Rate limits (app.limits) on both storages: this process's memory and the Redis that web processes share.
Refusals are 429 `rate_limited` with Retry-After on every front door; log-in slows down, then locks, and
says the same whether or not the email has an account; free credits are granted a few times per address."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.errors import TooManyRequests
from app.limits import (
    ESTIMATE,
    SUBMIT,
    ApiKeyLimited,
    EstimateLimited,
    RateLimits,
    after_failed_login,
    before_login,
    hit,
    storage_url,
    take_signup_grant,
)

STORAGES = ["memory", pytest.param("redis", marks=pytest.mark.redis)]


def limits_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": tmp_path, "secret_key": "test-secret", "_env_file": None}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(params=STORAGES)
def storage(request: pytest.FixtureRequest) -> str:
    """A storage URL for the counters: memory://, or an emptied Redis database."""
    return "memory://" if request.param == "memory" else str(request.getfixturevalue("redis_url"))


@pytest.fixture
def make_limits(tmp_path: Path, storage: str) -> Any:
    def make(**overrides: Any) -> RateLimits:
        return RateLimits(limits_settings(tmp_path, rate_limit_storage_url=storage, **overrides))

    return make


def refusal(call: Any, *args: Any) -> TooManyRequests:
    with pytest.raises(TooManyRequests) as caught:
        call(*args)
    return caught.value


@pytest.mark.nodb
def test_a_rule_refuses_past_its_limit_and_says_when_to_come_back(make_limits):
    limits = make_limits(rate_limit_submit_per_user="3/hour")
    for _ in range(3):
        hit(limits, SUBMIT, "user-a")
    refused = refusal(hit, limits, SUBMIT, "user-a")
    assert (refused.status, refused.code) == (429, "rate_limited")
    assert 3000 < refused.retry_after <= 3600  # the oldest of the three leaves the window within the hour
    assert "Wait" in refused.message
    hit(limits, SUBMIT, "user-b")  # someone else is not affected


@pytest.mark.nodb
def test_an_empty_rule_is_off_and_so_is_everything_when_disabled(make_limits):
    limits = make_limits(rate_limit_submit_per_user="", rate_limit_estimate_per_address="1/hour")
    for _ in range(50):
        hit(limits, SUBMIT, "user-a")
    hit(limits, ESTIMATE, "198.51.100.1")
    refusal(hit, limits, ESTIMATE, "198.51.100.1")
    disabled = make_limits(rate_limits_enabled=False, rate_limit_estimate_per_address="1/hour")
    for _ in range(5):
        hit(disabled, ESTIMATE, "198.51.100.2")


@pytest.mark.nodb
def test_failed_logins_slow_down_then_lock_an_email_known_or_not(make_limits):
    limits = make_limits(rate_limit_login_per_account="2/minute;3/hour", rate_limit_login_per_address="")
    answers = {}
    for email in ("known@example.com", "nobody-has-this@example.com"):
        before_login(limits, email, "198.51.100.1")
        after_failed_login(limits, email, "198.51.100.1")
        after_failed_login(limits, f"  {email.upper()} ", "198.51.100.2")  # the same account, however spelled
        slowed = refusal(before_login, limits, email, "198.51.100.3")  # from anywhere
        assert 0 < slowed.retry_after <= 60
        after_failed_login(limits, email, "198.51.100.1")
        locked = refusal(before_login, limits, email, "198.51.100.1")
        assert 60 < locked.retry_after <= 3600
        answers[email] = (slowed.status, slowed.code, slowed.message.split("Wait")[0], locked.message.split("Wait")[0])
    # Nothing in a refusal tells a real account from an unknown address.
    assert answers["known@example.com"] == answers["nobody-has-this@example.com"]
    before_login(limits, "someone-else@example.com", "198.51.100.1")


@pytest.mark.nodb
def test_failed_logins_from_one_address_lock_that_address_for_every_email(make_limits):
    limits = make_limits(rate_limit_login_per_account="", rate_limit_login_per_address="3/hour")
    for n in range(3):
        before_login(limits, f"victim{n}@example.com", "203.0.113.9")
        after_failed_login(limits, f"victim{n}@example.com", "203.0.113.9")
    locked = refusal(before_login, limits, "victim99@example.com", "203.0.113.9")
    assert locked.retry_after > 60
    before_login(limits, "victim99@example.com", "203.0.113.10")  # another address may still try
    # An IPv6 subscriber cannot walk through its /64 one address at a time.
    for n in range(3):
        after_failed_login(limits, "a@example.com", f"2001:db8:1:2::{n + 1}")
    refusal(before_login, limits, "b@example.com", "2001:db8:1:2::ffff")


@pytest.mark.nodb
def test_free_credits_go_to_a_few_sign_ups_per_address_per_day(make_limits):
    limits = make_limits()  # SIGNUP_GRANTS_PER_ADDRESS_PER_DAY=3
    assert [take_signup_grant(limits, "198.51.100.1") for _ in range(4)] == [True, True, True, False]
    assert take_signup_grant(limits, "198.51.100.2")
    never = make_limits(signup_grants_per_address_per_day=0)
    assert not take_signup_grant(never, "198.51.100.3")


@pytest.mark.nodb
def test_the_counters_are_shared_between_processes_only_through_redis(tmp_path):
    assert storage_url(limits_settings(tmp_path)) == "memory://"
    assert storage_url(limits_settings(tmp_path, queue_url="redis://queue:6379/0")) == "redis://queue:6379/0"
    assert storage_url(limits_settings(tmp_path, queue_url="redis://queue:6379/0",
                                       rate_limit_storage_url="memory://")) == "memory://"
    # Two processes with the in-memory default each count on their own.
    first, second = (RateLimits(limits_settings(tmp_path, rate_limit_submit_per_user="2/hour")) for _ in range(2))
    hit(first, SUBMIT, "user-a")
    hit(first, SUBMIT, "user-a")
    hit(second, SUBMIT, "user-a")


@pytest.mark.nodb
@pytest.mark.redis
def test_web_processes_on_the_queues_redis_count_together(tmp_path, redis_url):
    settings = limits_settings(tmp_path, queue_url=redis_url, rate_limit_submit_per_user="2/hour")
    first, second = RateLimits(settings), RateLimits(settings)  # as two web processes would build them
    assert first.url == redis_url
    hit(first, SUBMIT, "user-a")
    hit(second, SUBMIT, "user-a")
    assert refusal(hit, first, SUBMIT, "user-a").retry_after > 0
    refusal(hit, second, SUBMIT, "user-a")


# --- through the app's front doors --------------------------------------------------------------------------


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"rate_limit_estimate_per_address": "2/hour", "rate_limit_api_key": "2/hour"}


@pytest.fixture
def limited_app(app):
    for path in ("/api/v1/test-limited", "/v1/test-limited", "/test-limited"):
        app.get(path, dependencies=[EstimateLimited])(lambda: {"ok": True})
    app.get("/api/v1/test-key-limited", dependencies=[ApiKeyLimited])(lambda: {"ok": True})
    return app


def test_a_refusal_is_429_with_retry_after_on_every_front_door(limited_app):
    with TestClient(limited_app) as client:
        assert [client.get("/api/v1/test-limited").status_code for _ in range(2)] == [200, 200]
        api = client.get("/api/v1/test-limited")
        assert api.status_code == 429
        assert api.json()["error"]["code"] == "rate_limited" and api.json()["error"]["field"] is None
        openai = client.get("/v1/test-limited")  # the same address, so the same counter
        assert openai.status_code == 429 and openai.json()["error"]["code"] == "rate_limited"
        page = client.get("/test-limited")
        assert page.status_code == 429 and page.headers["content-type"].startswith("text/html")
        for answer in (api, openai, page):
            assert 3000 < int(answer.headers["Retry-After"]) <= 3600


def test_each_api_key_has_its_own_budget(limited_app):
    with TestClient(limited_app) as client:
        for _ in range(5):
            assert client.get("/api/v1/test-key-limited").status_code == 200  # no key: not this rule
        first = {"Authorization": "Bearer sk-ie-first"}
        assert [client.get("/api/v1/test-key-limited", headers=first).status_code for _ in range(3)] == [200, 200,
                                                                                                         429]
        other = {"Authorization": "Bearer sk-ie-second"}
        assert client.get("/api/v1/test-key-limited", headers=other).status_code == 200
