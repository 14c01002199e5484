"""All settings, read once from the environment and `.env`. Nothing else reads the environment."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator
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

    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None

    signup_credits: int = Field(default=10, ge=0)
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
    sweep_interval_seconds: float = Field(default=10.0, gt=0)
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
