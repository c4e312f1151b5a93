"""Every overlay renders; every rendered object validates strictly: built-in kinds with
kubernetes-validate for the Kubernetes versions docs/deploy.md names, KEDA's against its CRD schema
(vendored from kedacore/keda, tests/k8s/schemas/keda/)."""

from __future__ import annotations

import copy
from functools import cache

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.helpers import REPO
from tests.k8s.manifests import K8S_VERSIONS, OVERLAYS, render

SCHEMAS = REPO / "tests" / "k8s" / "schemas" / "keda"
KEDA_CRDS = {"ScaledObject": "keda.sh_scaledobjects.yaml", "TriggerAuthentication": "keda.sh_triggerauthentications.yaml"}


def test_every_overlay_is_rendered():
    assert set(OVERLAYS) == {"dev", "prod"}
    for overlay in OVERLAYS:
        kinds = {o["kind"] for o in render(overlay)}
        assert {"Deployment", "Service", "Ingress", "Job", "ScaledObject", "NetworkPolicy",
                "PodDisruptionBudget", "HorizontalPodAutoscaler", "ConfigMap", "Role"} <= kinds, overlay


def _strict(schema: dict) -> dict:
    """The CRD's schema as the API server's strict field validation applies it: no unknown fields."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node \
                    and not node.get("x-kubernetes-preserve-unknown-fields"):
                node["additionalProperties"] = False
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema)
    return schema


@cache
def keda_validator(kind: str, api_version: str):
    crd = yaml.safe_load((SCHEMAS / KEDA_CRDS[kind]).read_text())
    version = api_version.split("/")[1]
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            schema = _strict(v["schema"]["openAPIV3Schema"])
            # metadata is validated by the API server itself, not by the CRD schema
            schema["properties"]["metadata"] = {"type": "object"}
            return jsonschema.Draft7Validator(schema)
    raise AssertionError(f"{kind} {api_version} is not served by the vendored CRD")


def _validate(obj: dict, version: str) -> None:
    if obj["apiVersion"].startswith("keda.sh/"):
        errors = sorted(keda_validator(obj["kind"], obj["apiVersion"]).iter_errors(obj), key=str)
        assert not errors, f"{obj['kind']}/{obj['metadata']['name']}: " + "; ".join(e.message for e in errors)
    else:
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_objects_validate_strictly(overlay, version, record_property):
    objs = render(overlay)
    failures, counts = [], {"builtin": 0, "keda": 0}
    for obj in objs:
        try:
            _validate(obj, version)
            counts["keda" if obj["apiVersion"].startswith("keda.sh/") else "builtin"] += 1
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError, AssertionError) as exc:
            failures.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc}")
    record_property("validated", counts)
    print(f"{overlay} @ {version}: {counts['builtin']} built-in + {counts['keda']} KEDA objects valid")
    assert not failures, "\n".join(failures)
    assert counts["keda"] >= 4 and counts["builtin"] >= 30


def test_the_validators_reject_what_they_should():
    """A misspelt field fails both validators (they are strict, not just parsers)."""
    objs = render("prod")
    dep = copy.deepcopy(next(o for o in objs if o["kind"] == "Deployment"))
    dep["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(dep, K8S_VERSIONS[0], strict=True)
    so = copy.deepcopy(next(o for o in objs if o["kind"] == "ScaledObject"))
    so["spec"]["minReplicas"] = 1
    with pytest.raises(AssertionError, match="minReplicas"):
        _validate(so, K8S_VERSIONS[0])
    so = copy.deepcopy(next(o for o in objs if o["kind"] == "ScaledObject"))
    del so["spec"]["scaleTargetRef"]["name"]
    with pytest.raises(AssertionError, match="name"):
        _validate(so, K8S_VERSIONS[0])


def test_docs_name_the_validated_kubernetes_versions():
    text = (REPO / "docs" / "deploy.md").read_text()
    for v in K8S_VERSIONS:
        assert "Kubernetes " + v.rsplit(".", 1)[0] in text or v.rsplit(".", 1)[0] in text, v
    keda = (SCHEMAS / "VERSION").read_text()
    assert "v2." in keda and (SCHEMAS / "LICENSE").read_text().startswith("\n                                 Apache License")


def test_a_missing_kubectl_fails_naming_what_to_install(monkeypatch):
    from tests.k8s import manifests

    monkeypatch.setattr(manifests.shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="install kubectl"):
        manifests.kubectl()
