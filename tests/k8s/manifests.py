"""Rendering the kustomize overlays once per test session, and reading the rendered objects.

Every overlay under k8s/overlays/ is rendered with ``kubectl kustomize`` from a temporary copy of
k8s/ in which each gitignored ``*.secret.env`` is made from its committed ``*.secret.env.example``
(the dev overlay generates its Secrets from them, as an operator's copy would).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO

K8S = REPO / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
# The Kubernetes versions the manifests target (docs/deploy.md names them); kubernetes-validate's
# bundled schemas cover 1.25-1.37.
K8S_VERSIONS = ("1.35.0", "1.37.0")
# Secrets that production creates outside git (docs/deploy.md); their keys are in *.secret.env.example
EXTERNAL_SECRETS = {"gait-secrets", "gait-broker-auth"}
KUBECTL_HELP = ("kubectl with its built-in kustomize is required by tests/k8s and was not found: install "
                "kubectl >= 1.27 (https://kubernetes.io/docs/tasks/tools/; Debian/Ubuntu: the Kubernetes apt "
                "repository's `kubectl` package)")


def kubectl() -> str:
    exe = shutil.which("kubectl")
    if not exe:
        pytest.fail(KUBECTL_HELP, pytrace=False)
    return exe


@cache
def render(overlay: str) -> tuple[dict, ...]:
    """The objects of ``kubectl kustomize k8s/overlays/<overlay>``."""
    exe = kubectl()
    with tempfile.TemporaryDirectory(prefix="gait-k8s-") as tmp:
        copy = Path(tmp) / "k8s"
        shutil.copytree(K8S, copy, ignore=shutil.ignore_patterns("*.secret.env"))
        for example in copy.rglob("*.secret.env.example"):
            shutil.copy(example, example.with_suffix(""))
        r = subprocess.run([exe, "kustomize", str(copy / "overlays" / overlay)], capture_output=True, text=True,
                           timeout=120)
    if r.returncode != 0:
        pytest.fail(f"kubectl kustomize k8s/overlays/{overlay} failed:\n{r.stderr}", pytrace=False)
    return tuple(d for d in yaml.safe_load_all(r.stdout) if d)


def by_kind(objs, kind: str) -> list[dict]:
    return [o for o in objs if o["kind"] == kind]


def find(objs, kind: str, name: str) -> dict:
    hits = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(hits) == 1, f"expected one {kind}/{name}, found {len(hits)}"
    return hits[0]


def find_prefix(objs, kind: str, name: str) -> dict:
    """A generated object (ConfigMap/Secret with kustomize's hash suffix) by its base name."""
    hits = [o for o in objs if o["kind"] == kind and (o["metadata"]["name"] == name
                                                      or o["metadata"]["name"].startswith(name + "-"))]
    assert len(hits) == 1, f"expected one {kind} named {name}[-hash], found {[h['metadata']['name'] for h in hits]}"
    return hits[0]


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "CronJob")


def pod_spec(obj: dict) -> dict:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def pod_labels(obj: dict) -> dict:
    tpl = obj["spec"]["jobTemplate"]["spec"]["template"] if obj["kind"] == "CronJob" else obj["spec"]["template"]
    return tpl["metadata"].get("labels", {})


def workloads(objs) -> list[dict]:
    return [o for o in objs if o["kind"] in WORKLOAD_KINDS]


def containers(obj: dict, init: bool = True) -> list[dict]:
    spec = pod_spec(obj)
    return list(spec.get("initContainers", []) if init else []) + list(spec["containers"])


def matches(selector: dict, labels: dict) -> bool:
    """Label selector (matchLabels + matchExpressions with In/NotIn/Exists/DoesNotExist) against labels."""
    if "matchLabels" in selector or "matchExpressions" in selector:
        ml, exprs = selector.get("matchLabels", {}), selector.get("matchExpressions", [])
    else:  # a Service's plain map
        ml, exprs = selector, []
    if any(labels.get(k) != v for k, v in ml.items()):
        return False
    for e in exprs:
        k, op, vals = e["key"], e["operator"], e.get("values", [])
        ok = {"In": labels.get(k) in vals, "NotIn": labels.get(k) not in vals,
              "Exists": k in labels, "DoesNotExist": k not in labels}[op]
        if not ok:
            return False
    return bool(ml or exprs)


def env_file_keys(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            k, _, v = line.partition("=")
            out[k.strip()] = v
    return out
