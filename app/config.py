"""All settings, read once from the environment and `.env`. Nothing else reads the environment."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Where the embedded defaults keep their files.
    data_dir: Path = Path("./data")
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    """The address people reach us at (for Stripe's return links); default http://{host}:{port}."""

    database_url: str | None = None
    """Default: sqlite:///{data_dir}/app.db"""
    storage_url: str | None = None
    """Default: file://{data_dir}/files"""
    queue_url: str = "memory://"
    s3_endpoint_url: str | None = None

    edit_backend: str = "local"
    model_dir: Path | None = None
    """Where the offline engine keeps its model files; default {data_dir}/models."""
    openai_api_key: str | None = None
    openai_base_url: str = "https://api.openai.com/v1"
    openai_image_model: str = "gpt-image-2"
    openai_timeout_seconds: float = 300.0
    openai_max_retries: int = Field(default=3, ge=0)
    """Retries of one backend call on 429, 5xx, timeouts and dropped connections (then the runner retries)."""
    openai_retry_base_seconds: float = Field(default=1.0, ge=0)
    """First backoff between those retries; it doubles each time, unless OpenAI sends `retry-after`."""
    openai_retry_max_wait_seconds: float = Field(default=60.0, ge=0)
    """The longest wait between retries; a longer `retry-after` ends the call's retries at once."""
    openai_preview_backgrounds: bool = False
    """Offer backgrounds the spec calls a preview for the model (transparent on gpt-image-2)."""
    provider_prices_file: Path | None = None
    """TOML of the provider's prices per model (USD per million tokens), for the cost of each edit and
    `python -m app report margin`; default: OpenAI's public prices (app.billing.provider_costs)."""

    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None

    signup_credits: int = Field(default=10, ge=0)
    email_url: str = "log://"
    """Where mail goes (app.mail): `log://` (the server log, and each message as an .eml file under
    DATA_DIR/outbox), `file:///dir` (.eml files there), `smtp://user:pass@host:587` (STARTTLS; add `?tls=none`
    for a local relay without TLS) or `smtps://user:pass@host:465`; `?ca_file=/path/ca.pem` trusts only that
    authority for the server's certificate (always checked). With a real mail server (anything but
    log://) SIGNUP_CREDITS are granted when the address is confirmed, not at sign-up."""
    email_from: str = "Imagedit <no-reply@localhost>"
    pricing_file: Path | None = None
    secret_key: str | None = None

    # The pipeline.
    edit_workers: int = Field(default=2, ge=0)
    """In-process worker threads (memory queue) or threads per `worker` process."""
    worker_poll_seconds: float = Field(default=0.2, gt=0)
    lease_seconds: float = Field(default=120.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    retry_base_seconds: float = Field(default=2.0, ge=0)
    """A transient failure is retried after this many seconds, doubling each attempt."""
    edit_max_active_per_user: int = Field(default=8, ge=1)
    """Edits one person may have waiting or running at once; one more is answered 429
    too_many_active_edits, with nothing stored or charged. Workers already take turns between people, so
    this only bounds what one account can park in the queue (inputs, reservations); 8 leaves room for a
    batch such as six 4K edits and a few retries."""
    sweep_interval_seconds: float = Field(default=10.0, gt=0)
    edit_memory_mb: int = Field(default=1024, gt=0)
    """Memory the edits of one process may hold at once (all its worker threads together). Each edit
    reserves its estimated peak before it decodes anything and waits while the rest is taken; one that
    needs more than all of it runs alone. The default suits a 2 GB host."""
    compat_wait_seconds: float = Field(default=600.0, gt=0)
    """How long POST /v1/images/edits waits for its edit before answering 504."""
    compat_replay_seconds: float = Field(default=1800.0, ge=0)
    """POST /v1/images/edits takes a retried identical request (same person, same body) within this window
    for the first one, so the OpenAI SDK's automatic retries are never charged twice. Keep it above twice
    COMPAT_WAIT_SECONDS: the SDK retries after a 504 or its own timeout."""

    # Upload limits (API.md and the validation rules).
    max_upload_bytes: int = 50 * 1024 * 1024
    max_image_pixels: int = 50_000_000
    session_days: int = 30

    # Running in public (app.limits, app.body_limit): who the client is, and how often they may ask.
    forwarded_allow_ips: str = ""
    """Proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed: comma-separated IPs or CIDRs
    (`10.0.0.0/8,127.0.0.1`), or `*`. Empty (the default) trusts nobody: the client is the connection's peer."""
    rate_limits_enabled: bool = True
    """Off only for a private deployment or a load test; every rule below is then ignored."""
    rate_limit_storage_url: str | None = None
    """Where the counters live (a `limits` storage URI: memory://, redis://…). Default: the queue's Redis when
    QUEUE_URL is redis://, so every web process counts together; otherwise this process's memory."""
    rate_limit_strategy: str = "moving-window"
    """`moving-window` (exact), `fixed-window` (cheapest) or `sliding-window-counter`."""
    rate_limit_login_per_account: str = "5/minute;10/15minutes"
    """Failed log-ins per email address, known or not: the first limit slows guessing down, the last locks
    the address out for its window. Rules are `limits` strings (`N/period`, several joined by `;`); empty = off."""
    rate_limit_login_per_address: str = "10/minute;50/hour"
    """Failed log-ins per client address, whatever the email (password spraying)."""
    rate_limit_signup_per_address: str = "5/hour"
    """Sign-ups per client address: accounts made, and answers that an address is taken. A sign-up refused
    for bad input (a common password, a mistyped address) counts only against the next rule."""
    rate_limit_signup_attempts_per_address: str = "20/hour"
    """Sign-up attempts of any outcome per client address (a bound on scripted probes)."""
    rate_limit_estimate_per_address: str = "120/minute"
    """Price estimates per client address (anyone may ask, signed in or not)."""
    rate_limit_submit_per_user: str = "30/minute"
    """Edits submitted per person, whichever door they use."""
    rate_limit_api_key: str = "300/minute"
    """Requests per API key (counted on the key as sent, so guessed keys are limited too)."""
    rate_limit_export_per_user: str = "3/hour;10/day"
    """Data exports (ZIPs of every edit and the ledger) a person may ask for."""
    retention_days: int | None = Field(default=None, ge=1)
    """Inputs and results of edits finished longer ago than this are removed by the sweep (unset = keep)."""
    export_days: int = Field(default=7, ge=1)
    """How long a data export stays downloadable before the sweep removes it."""
    rate_limit_password_reset_per_address: str = "10/hour"
    """"Forgot password" requests per client address (refused with 429)."""
    rate_limit_password_reset_per_email: str = "3/hour"
    """Reset mails per e-mail address, known or not; over it the answer stays the same and no mail is sent."""
    rate_limit_verification_mail_per_user: str = "3/hour;10/day"
    """Confirmation mails a person may ask to be sent again."""
    rate_limit_account_links_per_address: str = "30/hour"
    """Uses of e-mailed links (confirm the address, reset the password) per client address."""
    signup_grants_per_address_per_day: int = Field(default=3, ge=0)
    """Sign-ups per client address per day that receive SIGNUP_CREDITS; later ones get an account without
    free credits (0 = never grant by address)."""

    # Operations (app.observability, app.readiness).
    metrics_token: str | None = None
    """Bearer token that `GET /metrics` asks for; unset = no /metrics at all (404)."""
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    """`python -m app worker` serves its Prometheus metrics on this port (all interfaces) when set."""
    log_format: str = "console"
    """`console` (readable lines) or `json` (one JSON object per line, for a log collector)."""
    worker_heartbeat_seconds: float = Field(default=5.0, gt=0)
    """How often a worker process records that it is alive (the `worker_heartbeats` table)."""
    worker_heartbeat_stale_seconds: float = Field(default=60.0, gt=0)
    """/readyz fails, with a shared queue, when no worker has been seen for this long; and the messages a worker
    process had taken from Redis go back to the queue when it has not been heard from for this long (it died)."""

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str) -> str:
        if value.strip().lower() not in ("console", "json"):
            raise ValueError("use console or json")
        return value.strip().lower()

    @field_validator("rate_limit_login_per_account", "rate_limit_login_per_address", "rate_limit_signup_per_address",
                     "rate_limit_signup_attempts_per_address",
                     "rate_limit_estimate_per_address", "rate_limit_submit_per_user", "rate_limit_api_key",
                     "rate_limit_export_per_user",
                     "rate_limit_password_reset_per_address", "rate_limit_password_reset_per_email",
                     "rate_limit_verification_mail_per_user", "rate_limit_account_links_per_address")
    @classmethod
    def _rate_limit_rule(cls, value: str) -> str:
        from limits import parse_many

        if value.strip():
            parse_many(value)  # ValueError names the string it could not read
        return value.strip()

    @field_validator("rate_limit_strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        from limits.strategies import STRATEGIES

        if value not in STRATEGIES:
            raise ValueError(f"use one of {', '.join(STRATEGIES)}")
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxy_addresses(cls, value: str) -> str:
        import ipaddress

        for entry in filter(None, (part.strip() for part in value.split(","))):
            if entry != "*":
                ipaddress.ip_network(entry, strict=False)  # ValueError names the entry
        return value

    @model_validator(mode="after")
    def _shared_processes_need_a_secret_key(self) -> Settings:
        # Without SECRET_KEY each machine generates its own in DATA_DIR: sessions, CSRF tokens and signed links
        # made by one process would be refused by the others that share its database or queue.
        shared = [name for name, is_shared in (
            ("QUEUE_URL", not self.queue_url.startswith("memory://")),
            ("DATABASE_URL", not self.resolved_database_url.startswith("sqlite")),
        ) if is_shared]
        if shared and not self.secret_key:
            from app.errors import ConfigurationError

            raise ConfigurationError(
                f"SECRET_KEY is not set, but {' and '.join(shared)} {'is' if len(shared) == 1 else 'are'} shared "
                "with other processes, and every process that shares them must sign sessions and links with the "
                "same key. Set SECRET_KEY to one long random value in all of them (for example the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`).")
        return self

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir}/app.db"

    @property
    def resolved_model_dir(self) -> Path:
        return (self.model_dir or self.data_dir / "models").expanduser().resolve()

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or f"file://{self.data_dir}/files"

    @property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def email_confirms_signup(self) -> bool:
        """Whether mail really leaves this machine, so that a confirmed address can be asked for (app.mail)."""
        return not self.email_url.startswith("log://")

    @property
    def payments_enabled(self) -> bool:
        return bool(self.stripe_secret_key)

    @cached_property
    def resolved_secret_key(self) -> str:
        """SECRET_KEY, or one generated on first start and kept in DATA_DIR so sessions survive restarts."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()
