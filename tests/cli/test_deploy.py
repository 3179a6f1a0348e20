"""Static checks of deploy/: the YAML parses, commands parse with the real CLI, settings load.

No container engine or cluster is involved; this catches typos and drift, not runtime issues.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from brevdue_cli.main import build_parser
from services.mailer.config import WebhookSettings
from shared.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"


def k8s_documents() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs: list[dict[str, Any]] = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]
    return docs


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in k8s_documents() if d["kind"] == kind}


def test_every_k8s_file_is_listed_and_well_formed() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    for doc in k8s_documents():
        assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"]


def test_deployments_run_real_commands_with_probes() -> None:
    deployments = of_kind("Deployment")
    assert set(deployments) == {
        "brevdue-subscriptions",
        "brevdue-campaigns",
        "brevdue-mailer",
        "brevdue-subscriptions-worker",
        "brevdue-bounces",
    }
    parser = build_parser()
    for name, deployment in deployments.items():
        spec = deployment["spec"]
        pod = spec["template"]["spec"]
        assert (
            spec["selector"]["matchLabels"].items()
            <= spec["template"]["metadata"]["labels"].items()
        )
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        parser.parse_args(container["args"])  # exits (fails the test) on a bad command line
        refs = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
        assert refs == {"brevdue-config", "brevdue-secrets"}
        if name in ("brevdue-mailer", "brevdue-subscriptions-worker"):
            for probe in ("livenessProbe", "readinessProbe"):
                command = container[probe]["exec"]["command"]
                assert command[0] == "brevdue"
                assert parser.parse_args(command[1:]).check is True
        else:
            assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
            assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
            if "--port" in container["args"]:
                port = int(container["args"][container["args"].index("--port") + 1])
            else:  # the bounces process reads its ports from the environment
                env = {item["name"]: item["value"] for item in container["env"]}
                port = WebhookSettings.from_env(env).port
            assert container["ports"][0]["containerPort"] == port


def test_services_hpa_and_migrate_job() -> None:
    services = of_kind("Service")
    assert set(services) == {"brevdue-subscriptions", "brevdue-campaigns", "brevdue-bounces"}
    hpa = of_kind("HorizontalPodAutoscaler")["brevdue-mailer"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "brevdue-mailer"
    job = of_kind("Job")["brevdue-migrate"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["migrate"]


def test_configmap_and_secret_make_valid_settings() -> None:
    config = of_kind("ConfigMap")["brevdue-config"]["data"]
    secret = of_kind("Secret")["brevdue-secrets"]["stringData"]
    assert not set(config) & set(secret)
    settings = Settings.from_env({**config, **secret})
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.log_format == "json"


def _interpolate(value: str) -> str:
    # Compose's ${VAR:-default} and ${VAR:?message}: take the default, or a stand-in value.
    value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)
    return re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "x" * 32, value)


def test_compose_services_and_settings() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {
        "postgres",
        "redis",
        "migrate",
        "subscriptions",
        "campaigns",
        "mailer",
        "catcher",
    } <= set(services)
    assert services["mailer"]["deploy"]["replicas"] == 2
    parser = build_parser()
    for name in ("migrate", "subscriptions", "campaigns", "mailer", "catcher"):
        service = services[name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        parser.parse_args(service["command"])
        env = {key: _interpolate(str(value)) for key, value in service["environment"].items()}
        Settings.from_env(env)
    assert services["migrate"]["restart"] == "no"
    assert services["catcher"]["depends_on"] == {}
    assert services["subscriptions"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )


def test_dockerfile_is_slim_non_root_and_frozen() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.findall(r"^FROM (\S+)", text, re.M) == ["python:3.11-slim"] * 2
    assert "uv sync --frozen" in text
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and not user[-1].startswith(("root", "0"))
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M):
        for path in source.split():
            assert (DEPLOY.parent / path).exists(), path


@pytest.mark.parametrize("path", sorted(DEPLOY.rglob("*.yaml")), ids=lambda p: p.name)
def test_yaml_parses(path: Path) -> None:
    assert list(yaml.safe_load_all(path.read_text()))
