"""Rate limits and the client address they are keyed on.

Counters live in a `limits` storage: this process's memory by default, or the queue's Redis when QUEUE_URL is
redis:// (RATE_LIMIT_STORAGE_URL overrides), so that several web processes count together. Each rule is a
setting holding one or more `limits` strings (`5/minute;10/15minutes`); a request over any of them is
refused with TooManyRequests (429 `rate_limited`, `Retry-After`).

How routes use it:

- per client address, as a dependency: `dependencies=[EstimateLimited]`, or from a page that shows the refusal
  on its form: `hit_address(context, PASSWORD_RESET_ADDRESS, address)`;
- per API key, as a router dependency: `ApiKeyLimited` (a no-op without `Authorization: Bearer`);
- per person or anything else, from a route or a service: `hit(context, SUBMIT, principal.user_id)`;
- log-in: `before_login(context, email, address)` before the password is checked, and
  `after_failed_login(context, email, address)` when it was wrong (`address` from `ClientAddress`);
- sign-up: `with signup_attempt(context, address):` around making the account;
- free credits: `take_signup_grant(context, address)` says whether this sign-up gets SIGNUP_CREDITS.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import ipaddress
import logging
import math
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import STRATEGIES, RateLimiter

from app import observability
from app.config import Settings
from app.errors import AppError, ConfigurationError, NotAuthenticated, TooManyRequests

if TYPE_CHECKING:
    from app.context import AppContext

log = logging.getLogger(__name__)

# Rule names, and the setting that holds each rule.
LOGIN_ACCOUNT = "login_account"
LOGIN_ADDRESS = "login_address"
SIGNUP = "signup"
SIGNUP_ATTEMPT = "signup_attempt"
SIGNUP_GRANT = "signup_grant"
ESTIMATE = "estimate"
SUBMIT = "submit"
API_KEY = "api_key"
EXPORT = "export"
PASSWORD_RESET_ADDRESS = "password_reset_address"
PASSWORD_RESET_EMAIL = "password_reset_email"
VERIFICATION_MAIL = "verification_mail"
ACCOUNT_LINKS = "account_links"

RULES: dict[str, Callable[[Settings], str]] = {
    LOGIN_ACCOUNT: lambda s: s.rate_limit_login_per_account,
    LOGIN_ADDRESS: lambda s: s.rate_limit_login_per_address,
    SIGNUP: lambda s: s.rate_limit_signup_per_address,
    SIGNUP_ATTEMPT: lambda s: s.rate_limit_signup_attempts_per_address,
    SIGNUP_GRANT: lambda s: f"{s.signup_grants_per_address_per_day}/day",
    ESTIMATE: lambda s: s.rate_limit_estimate_per_address,
    SUBMIT: lambda s: s.rate_limit_submit_per_user,
    API_KEY: lambda s: s.rate_limit_api_key,
    EXPORT: lambda s: s.rate_limit_export_per_user,
    PASSWORD_RESET_ADDRESS: lambda s: s.rate_limit_password_reset_per_address,
    PASSWORD_RESET_EMAIL: lambda s: s.rate_limit_password_reset_per_email,
    VERIFICATION_MAIL: lambda s: s.rate_limit_verification_mail_per_user,
    ACCOUNT_LINKS: lambda s: s.rate_limit_account_links_per_address,
}

MESSAGES = {
    # One message for both log-in rules, whether or not the email has an account: a refusal must not tell
    # an attacker which addresses are real.
    LOGIN_ACCOUNT: "Too many failed log-ins. Wait {wait} before trying again.",
    LOGIN_ADDRESS: "Too many failed log-ins. Wait {wait} before trying again.",
    SIGNUP: "Too many sign-ups from your network. Wait {wait} before trying again.",
    SIGNUP_ATTEMPT: "Too many sign-up attempts from your network. Wait {wait} before trying again.",
    SIGNUP_GRANT: "No more free credits from your network today.",
    ESTIMATE: "Too many estimates. Wait {wait} before asking again.",
    SUBMIT: "Too many edits at once. Wait {wait} before submitting again.",
    API_KEY: "Too many requests with this API key. Wait {wait} before trying again.",
    EXPORT: "You asked for several exports already. Wait {wait} before asking for another.",
    PASSWORD_RESET_ADDRESS: "Too many password resets from your network. Wait {wait} before trying again.",
    PASSWORD_RESET_EMAIL: "Too many reset mails for this address.",  # never shown: the answer stays the same
    VERIFICATION_MAIL: "A confirmation mail was sent recently. Wait {wait} before asking for another.",
    ACCOUNT_LINKS: "Too many tries of e-mailed links from your network. Wait {wait} before trying again.",
}


def storage_url(settings: Settings) -> str:
    """RATE_LIMIT_STORAGE_URL, else the queue's Redis (shared by every process), else this process's memory."""
    if settings.rate_limit_storage_url:
        return settings.rate_limit_storage_url
    if settings.queue_url.startswith(("redis://", "rediss://")):
        return settings.queue_url
    return "memory://"


class RateLimits:
    """One process's rate limiter: a storage, a strategy and the rules read from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limits_enabled
        self.url = storage_url(settings)
        options: dict[str, Any] = {"wrap_exceptions": True}
        if self.url.startswith(("redis://", "rediss://")):
            options["key_prefix"] = "imagedit:limits"  # beside the queue's own keys in the same database
        try:
            self.storage = storage_from_string(self.url, **options)
        except Exception as exc:  # limits' own ConfigurationError, or a missing client library
            raise ConfigurationError(f"RATE_LIMIT_STORAGE_URL={self.url.split('@')[-1]!r}: {exc}") from exc
        self.strategy: RateLimiter = STRATEGIES[settings.rate_limit_strategy](self.storage)
        self.rules: dict[str, list[RateLimitItem]] = {
            name: parse_many(text) if text.strip() else []
            for name, text in ((name, read(settings)) for name, read in RULES.items())
        }

    def hit(self, rule: str, key: str) -> None:
        """Count one request against `rule` for `key`; TooManyRequests if any of its limits is spent."""
        refused = [item for item in self._items(rule) if not self._call(self.strategy.hit, item, rule, key)]
        if refused:
            raise self._refusal(rule, key, refused)

    def check(self, rule: str, key: str) -> None:
        """TooManyRequests if `rule` is spent for `key`, without counting this request."""
        refused = [item for item in self._items(rule) if not self._call(self.strategy.test, item, rule, key)]
        if refused:
            raise self._refusal(rule, key, refused)

    def allows(self, rule: str, key: str) -> bool:
        """Count one use of `rule` for `key` if it is left; whether it was."""
        try:
            self.hit(rule, key)
        except TooManyRequests:
            return False
        return True

    def count(self, rule: str, key: str) -> None:
        """Count one event (a failed log-in) without refusing anything now; `check` refuses the next ones."""
        for item in self._items(rule):
            self._call(self.strategy.hit, item, rule, key)

    def retry_after(self, rule: str, key: str) -> int:
        """Seconds until `rule` accepts one more request for `key` (0 when it would now)."""
        return self._wait(rule, key, self._items(rule))

    def _wait(self, rule: str, key: str, items: Sequence[RateLimitItem]) -> int:
        waits = [0.0]
        for item in items:
            try:
                stats = self.strategy.get_window_stats(item, rule, key)
            except StorageError:
                continue
            if stats.remaining <= 0:
                waits.append(stats.reset_time - time.time())
        return max(0, math.ceil(max(waits)))

    def reset(self, rule: str, key: str) -> None:
        """Forget `key`'s count under `rule` (an operator unlocking an account, a test)."""
        for item in self._items(rule):
            self._call(self.strategy.clear, item, rule, key)

    def _items(self, rule: str) -> list[RateLimitItem]:
        return self.rules[rule] if self.enabled else []

    def _call(self, operation: Callable[..., Any], item: RateLimitItem, rule: str, key: str) -> Any:
        # A storage outage must not take log-in and uploads down with it: the request goes through.
        try:
            return operation(item, rule, key)
        except StorageError as exc:
            log.warning("rate limit storage %s failed (%s); letting %s through", self.url.split("@")[-1],
                        exc.storage_error, rule)
            return True

    def _refusal(self, rule: str, key: str, refused: Sequence[RateLimitItem]) -> TooManyRequests:
        observability.RATE_LIMIT_REFUSALS.labels(rule).inc()
        wait = max(1, self._wait(rule, key, refused))
        return TooManyRequests(MESSAGES[rule].format(wait=_spoken(wait)), retry_after=wait)


def _spoken(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"


# --- one limiter per context ------------------------------------------------------------------------------

_limiters: dict[int, RateLimits] = {}


def rate_limits(context: AppContext) -> RateLimits:
    """The context's limiter, made on first use and dropped with the context."""
    limiter = _limiters.get(id(context))
    if limiter is None:
        limiter = _limiters.setdefault(id(context), RateLimits(context.settings))
        weakref.finalize(context, _limiters.pop, id(context), None)
    return limiter


def _limiter(target: AppContext | RateLimits) -> RateLimits:
    return target if isinstance(target, RateLimits) else rate_limits(target)


def hit(target: AppContext | RateLimits, rule: str, key: str) -> None:
    """Count one request against `rule` for `key` (a user id, an address…); TooManyRequests (429) when spent."""
    _limiter(target).hit(rule, key)


def hit_address(target: AppContext | RateLimits, rule: str, address: str) -> None:
    """Count one request against `rule` for a client address (`ClientAddress`), keyed as `address_key` says."""
    _limiter(target).hit(rule, address_key(address))


# --- log-in -----------------------------------------------------------------------------------------------


def _account_key(email: str) -> str:
    # The same key for every spelling that logs in to the same account, known or not; hashed so that the
    # shared storage holds no email addresses.
    from app.accounts.service import normalize_email
    from app.errors import ValidationFailed

    try:
        normalized = normalize_email(email)
    except ValidationFailed:
        normalized = (email or "").strip().lower()
    return hashlib.sha256(normalized.encode()).hexdigest()[:32]


def before_login(target: AppContext | RateLimits, email: str, address: str) -> None:
    """Call before checking a password: TooManyRequests while this email (whether or not it has an account)
    or this client address has too many recent failures. Nothing is counted here."""
    limiter = _limiter(target)
    limiter.check(LOGIN_ACCOUNT, _account_key(email))
    limiter.check(LOGIN_ADDRESS, address_key(address))


def after_failed_login(target: AppContext | RateLimits, email: str, address: str) -> None:
    """Call when a log-in failed (unknown email or wrong password alike): counts against both."""
    limiter = _limiter(target)
    limiter.count(LOGIN_ACCOUNT, _account_key(email))
    limiter.count(LOGIN_ADDRESS, address_key(address))


def allows_reset_mail(target: AppContext | RateLimits, email: str) -> bool:
    """Whether another password-reset mail may go to `email` (known or not); counts it when it may."""
    return _limiter(target).allows(PASSWORD_RESET_EMAIL, _account_key(email))


@contextlib.contextmanager
def password_attempt(target: AppContext | RateLimits, email: str, address: str) -> Iterator[None]:
    """Around anything that checks a person's password (log-in, password change, account deletion): refused
    while this email or address is locked, and a wrong password counts as a failed log-in."""
    before_login(target, email, address)
    try:
        yield
    except AppError as error:
        if isinstance(error, NotAuthenticated) or error.code == "wrong_password":
            after_failed_login(target, email, address)
        raise


@contextlib.contextmanager
def signup_attempt(target: AppContext | RateLimits, address: str) -> Iterator[None]:
    """Around a sign-up from `address`: every attempt counts against SIGNUP_ATTEMPT, and only one that made an
    account or found the e-mail taken counts against SIGNUP; refused (nothing counted against SIGNUP) while
    either is spent.

    Why input refused as bad (a common password, a mistyped address) does not count against SIGNUP: it made
    nothing and told nothing, and people behind one shared office address must not be locked out for an hour
    by a colleague's two typos. The looser SIGNUP_ATTEMPT still bounds a script's probes of any kind. "Already
    taken" counts against SIGNUP because it tells which addresses have accounts."""
    limiter = _limiter(target)
    key = address_key(address)
    limiter.hit(SIGNUP_ATTEMPT, key)
    limiter.check(SIGNUP, key)
    try:
        yield
    except AppError as error:
        if error.code == "email_taken":
            limiter.count(SIGNUP, key)
        raise
    limiter.count(SIGNUP, key)


def take_signup_grant(target: AppContext | RateLimits, address: str) -> bool:
    """Whether a sign-up from `address` gets the free SIGNUP_CREDITS (SIGNUP_GRANTS_PER_ADDRESS_PER_DAY);
    counts the grant when it does. Call it once the sign-up is valid, just before creating the account."""
    return _limiter(target).allows(SIGNUP_GRANT, address_key(address))


# --- the client address -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustedProxies:
    """FORWARDED_ALLOW_IPS, parsed."""

    everyone: bool
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    def __contains__(self, host: str) -> bool:
        if self.everyone:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


@functools.lru_cache(maxsize=16)
def trusted_proxies(setting: str) -> TrustedProxies:
    entries = [entry.strip() for entry in setting.split(",") if entry.strip()]
    networks = tuple(ipaddress.ip_network(entry, strict=False) for entry in entries if entry != "*")
    return TrustedProxies(everyone="*" in entries, networks=networks)


def client_address(scope: Any, settings: Settings) -> str:
    """The client's IP: the connection's peer, or, when that peer is a trusted proxy (FORWARDED_ALLOW_IPS), the
    nearest address in `X-Forwarded-For` that is not itself a trusted proxy (read from the right: the left part
    is whatever the client chose to send). Takes a Request or an ASGI scope."""
    scope = scope.scope if isinstance(scope, Request) else scope
    peer = scope.get("client")
    address = _host(str(peer[0])) if peer else "unknown"
    trusted = trusted_proxies(settings.forwarded_allow_ips)
    if address not in trusted:
        return address
    hops = [hop.strip() for name, value in scope.get("headers", ())
            if name == b"x-forwarded-for" for hop in value.decode("latin-1").split(",") if hop.strip()]
    for hop in reversed(hops):
        host = _host(hop)
        if host not in trusted:
            return host
    return _host(hops[0]) if hops else address


def _host(hop: str) -> str:
    """An address as written by a proxy (`1.2.3.4`, `1.2.3.4:5678`, `[::1]:80`) in its canonical form."""
    candidate = hop
    if hop.startswith("[") and "]" in hop:
        candidate = hop[1:hop.index("]")]
    elif hop.count(":") == 1:
        candidate = hop.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return hop[:64]  # not an address: keep it (bounded) as its own key


def address_key(address: str) -> str:
    """What a per-address rule counts on: the address, or for IPv6 its /64 (one subscriber's whole network,
    which they can otherwise walk through one address at a time)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def get_client_address(request: Request) -> str:
    """Dependency: the client address (see `client_address`)."""
    context: AppContext = request.app.state.context
    return client_address(request, context.settings)


ClientAddress = Annotated[str, Depends(get_client_address)]


# --- ready dependencies -----------------------------------------------------------------------------------


def per_address(rule: str) -> Callable[[Request], None]:
    """A dependency that counts each request against `rule` for its client address."""

    def dependency(request: Request) -> None:  # sync: FastAPI runs it in a thread (the storage may be Redis)
        context: AppContext = request.app.state.context
        hit_address(context, rule, client_address(request, context.settings))

    dependency.__name__ = f"rate_limit_{rule}_per_address"
    return dependency


def per_api_key(request: Request) -> None:
    """Dependency: counts a request that carries `Authorization: Bearer <key>` against API_KEY for that key."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return
    hit(request.app.state.context, API_KEY, hashlib.sha256(key.strip().encode()).hexdigest()[:32])


EstimateLimited = Depends(per_address(ESTIMATE))
PasswordResetLimited = Depends(per_address(PASSWORD_RESET_ADDRESS))
AccountLinksLimited = Depends(per_address(ACCOUNT_LINKS))
ApiKeyLimited = Depends(per_api_key)
