"""deploy/k8s (issue 18, item 5): every manifest valid against Kubernetes' own schemas (kubernetes-validate,
strict: unknown fields are errors), and the references between them hold: every ConfigMap, Secret, Secret
key, claim and Service a manifest names exists, Services select pods, Ingress backends name Service ports."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
# The oldest Kubernetes still widely run and the newest the validator knows.
VERSIONS = ["1.30.0", kubernetes_validate.utils.latest_version()]


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        found += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


RESOURCES = [(name, doc) for name, doc in documents() if doc["kind"] != "Kustomization"]


def named(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in RESOURCES if doc["kind"] == kind}


def pod_specs() -> list[tuple[str, dict[str, Any]]]:
    specs = []
    for _, doc in RESOURCES:
        if doc["kind"] in ("Deployment", "Job"):
            specs.append((doc["metadata"]["name"], doc["spec"]["template"]["spec"]))
    return specs


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec.get("initContainers", []) + spec["containers"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("file", "doc"), RESOURCES, ids=[f"{n}:{d['kind']}" for n, d in RESOURCES])
def test_manifest_is_valid_kubernetes(file: str, doc: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_refuses_a_mistake() -> None:
    deployment = yaml.safe_load((K8S / "web.yaml").read_text().split("---")[0])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}  # wrong case: unknown field
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[-1], strict=True)


def test_kustomization_lists_existing_files_and_one_namespace() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (K8S / resource).is_file(), resource
    assert {doc["metadata"].get("namespace", "pleura") for _, doc in RESOURCES if doc["kind"] != "Namespace"} == {
        kustomization["namespace"]}
    images = {image["name"] for image in kustomization["images"]}
    for name, spec in pod_specs():
        for container in containers(spec):
            if name != "pleura-migrate":  # applied alone, with its image written out
                assert container["image"] in images, f"{name}: image {container['image']} is not set by kustomize"


def test_every_referenced_configmap_secret_and_claim_exists() -> None:
    configmaps, secrets, claims = named("ConfigMap"), named("Secret"), named("PersistentVolumeClaim")
    for name, spec in pod_specs():
        for container in containers(spec):
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in configmaps, name
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets, name
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {})
                if "secretKeyRef" in ref:
                    secret = secrets[ref["secretKeyRef"]["name"]]
                    assert ref["secretKeyRef"]["key"] in secret["stringData"], name
            mounted = {volume["name"] for volume in spec.get("volumes", [])}
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in mounted, f"{name}: mount of undeclared volume {mount['name']}"
        for volume in spec.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, name


def test_the_secret_holds_what_the_settings_need() -> None:
    keys = set(named("Secret")["pleura-secrets"]["stringData"])
    assert {"DJANGO_SECRET_KEY", "PLEURA_PSEUDONYM_KEY", "PLEURA_FRAME_LINK_SECRET", "DATABASE_URL",
            "CELERY_BROKER_URL", "CHANNEL_REDIS_URL"} <= keys
    assert not keys & set(named("ConfigMap")["pleura-config"]["data"]), "a setting in both ConfigMap and Secret"
    assert "secret.example.yaml" not in yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]


def test_services_select_pods_and_the_ingress_names_service_ports() -> None:
    deployments, services = named("Deployment"), named("Service")
    for name, deployment in deployments.items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), name
    for name, service in services.items():
        matches = [d for d in deployments.values()
                   if service["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert matches, f"Service {name} selects no pods"
        ports = {port["name"] for c in matches[0]["spec"]["template"]["spec"]["containers"] for port in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, name
    for ingress in named("Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["name"] in services
                assert backend["port"]["name"] in {p["name"] for p in services[backend["name"]]["spec"]["ports"]}


def test_probes_queues_and_the_gpu() -> None:
    deployments = named("Deployment")
    web = deployments["pleura-web"]["spec"]["template"]["spec"]["containers"][0]
    assert web["readinessProbe"]["httpGet"]["path"] == "/healthz" and web["livenessProbe"]["httpGet"]["path"] == "/livez"
    queues = {}
    for name in ("pleura-worker-cpu", "pleura-worker-gpu", "pleura-worker-scoring"):
        worker = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        assert worker["livenessProbe"]["exec"]["command"] == ["pleura-healthcheck"]
        queues[name] = {v["name"]: v["value"] for v in worker["env"]}["PLEURA_WORKER_QUEUES"]
    assert queues == {"pleura-worker-cpu": "ingest,analysis", "pleura-worker-gpu": "gpu",
                      "pleura-worker-scoring": "scoring"}
    for name in ("pleura-worker-gpu", "pleura-worker-scoring"):
        gpu = deployments[name]["spec"]["template"]["spec"]
        assert gpu["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
        assert gpu["nodeSelector"] and any(t["key"] == "nvidia.com/gpu" for t in gpu["tolerations"])
    job = named("Job")["pleura-migrate"]["spec"]["template"]["spec"]
    assert job["containers"][0]["args"] == ["migrate"] and job["restartPolicy"] == "Never"


def test_pods_run_as_non_root() -> None:
    for name, spec in pod_specs():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        for container in containers(spec):
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], name


def test_kustomize_builds_the_manifests() -> None:
    """`kubectl kustomize` (offline) where kubectl is installed: what `kubectl apply -k` would send."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (the schema checks above do not need it)")
    result = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    built = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert {doc["kind"] for doc in built} == {"Namespace", "ConfigMap", "PersistentVolumeClaim", "Deployment",
                                              "Service", "Ingress"}
    images = {c["image"] for doc in built if doc["kind"] == "Deployment"
              for c in doc["spec"]["template"]["spec"]["containers"]}
    assert images == {"registry.example.org/pleura:0.1.0", "registry.example.org/pleura-cuda:0.1.0"}
