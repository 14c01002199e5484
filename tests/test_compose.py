"""compose.yaml (the production topology) read without docker: every part the README promises is there, the
app's processes run our commands in the right order, every setting they are given is one app/config.py
reads and is valid there, and no secret is written into the file."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.config import Settings

pytestmark = pytest.mark.nodb

ROOT = Path(__file__).resolve().parent.parent
# Read by libraries, not by app/config.py: boto3's credentials for S3.
LIBRARY_VARIABLES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"}
SECRETS = {"SECRET_KEY", "METRICS_TOKEN", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "OPENAI_API_KEY",
           "EMAIL_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD"}
VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict[str, Any]]:
    return compose["services"]


def command(service: dict[str, Any]) -> list[str]:
    value = service["command"]
    return shlex.split(value) if isinstance(value, str) else list(value)


def app_services(services, subcommand: str) -> dict[str, dict[str, Any]]:
    return {name: service for name, service in services.items()
            if service.get("build") and command(service)[:4] == ["python", "-m", "app", subcommand]}


def example_values() -> dict[str, str]:
    lines = (ROOT / "production.env.example").read_text().splitlines()
    pairs = (line.split("=", 1) for line in lines if line.strip() and not line.lstrip().startswith("#"))
    return {name.strip(): value.strip() or "x" * 32 for name, value in pairs}


def interpolate(value: str, env: dict[str, str]) -> str:
    return VARIABLE.sub(lambda match: env[match.group(1)], value)


def test_every_part_of_the_topology_is_there(services):
    images = {name: service.get("image", "") for name, service in services.items()}
    assert images["postgres"].startswith("postgres:")
    assert images["redis"].startswith("redis:")
    assert "minio" in images["minio"]
    assert images["caddy"].startswith("caddy:")
    assert list(app_services(services, "migrate")) == ["migrate"]
    assert sorted(app_services(services, "serve")) == ["web-1", "web-2"]
    assert sorted(app_services(services, "worker")) == ["worker-1", "worker-2"]
    # One image for all of them: the repository's Dockerfile.
    assert all(service["build"] == "." for service in services.values() if service.get("build"))


def test_web_and_workers_start_after_the_migration_and_the_services(services):
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name, service in {**app_services(services, "serve"), **app_services(services, "worker")}.items():
        depends = service["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name
        assert depends["bucket"]["condition"] == "service_completed_successfully", name
        assert service["restart"] == "unless-stopped", name
    for name in ("postgres", "redis", "minio"):
        assert services[name]["healthcheck"]["test"], name


def test_health_checks_use_healthz_and_the_proxy_routes_on_readyz(services):
    for name, service in app_services(services, "serve").items():
        assert "/healthz" in " ".join(service["healthcheck"]["test"]), name
        assert "ports" not in service, f"{name} is reached through the proxy only"
    for name, service in app_services(services, "worker").items():
        port = service["environment"]["WORKER_METRICS_PORT"]
        assert f":{port}/metrics" in " ".join(service["healthcheck"]["test"]), name
    caddy = services["caddy"]
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert {"80:80", "443:443"} <= set(caddy["ports"])
    caddyfile = (ROOT / "Caddyfile").read_text()
    upstreams = re.search(r"reverse_proxy ([^{]+)\{", caddyfile)
    assert upstreams is not None
    assert upstreams.group(1).split() == ["web-1:8000", "web-2:8000"]
    assert re.search(r"^\s*health_uri /readyz$", caddyfile, re.M)
    assert re.search(r"^\{\$SITE_ADDRESS\} \{$", caddyfile, re.M)  # a host name: Caddy serves it over TLS


def test_every_app_setting_is_a_real_setting_with_a_valid_value(services):
    known = {name.upper() for name in Settings.model_fields} | LIBRARY_VARIABLES
    env = example_values()
    for kind in ("migrate", "serve", "worker"):
        for name, service in app_services(services, kind).items():
            environment = service["environment"]
            assert set(environment) - known == set(), name
            values = {key: interpolate(str(value), env) for key, value in environment.items()
                      if key not in LIBRARY_VARIABLES}
            settings = Settings(_env_file=None, **{key.lower(): value for key, value in values.items()})
            assert settings.log_format == "json"
            assert settings.queue_url.startswith("redis://")
            assert settings.resolved_database_url.startswith("postgresql+psycopg://")
            assert settings.resolved_storage_url.startswith("s3://")
            assert settings.metrics_token and settings.secret_key
            assert settings.resolved_public_url == f"https://{env['SITE_ADDRESS']}"
            if kind == "worker":
                assert settings.worker_metrics_port is not None


def test_the_proxy_is_the_only_address_whose_forwarded_headers_are_believed(compose, services):
    caddy_address = services["caddy"]["networks"]["backend"]["ipv4_address"]
    for name, service in app_services(services, "serve").items():
        assert service["environment"]["FORWARDED_ALLOW_IPS"] == caddy_address, name
    subnet = compose["networks"]["backend"]["ipam"]["config"][0]["subnet"]
    import ipaddress

    assert ipaddress.ip_address(caddy_address) in ipaddress.ip_network(subnet)


def test_no_secret_is_written_into_the_file_and_each_comes_from_the_env_file(services):
    env = example_values()
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if key in SECRETS or "PASSWORD" in key:
                assert VARIABLE.search(str(value)), f"{name}: {key} is written in compose.yaml"
        for variable in VARIABLE.findall(" ".join(str(v) for v in (service.get("environment") or {}).values())):
            assert variable in env, f"{name} uses ${{{variable}}}, which production.env.example does not name"
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "production.env" in ignored
