"""The manifests agree with each other and with the code: selectors select, references resolve, and
images, ports, queues, time limits and environment variables are the ones the code uses."""

from __future__ import annotations

import json
import re
import tempfile
from functools import cache
from urllib.parse import urlparse

import pytest

from tests.helpers import REPO, run_python
from tests.k8s.manifests import (
    EXTERNAL_SECRETS,
    K8S,
    OVERLAYS,
    by_kind,
    containers,
    env_file_keys,
    find,
    find_prefix,
    matches,
    pod_labels,
    pod_spec,
    render,
    workloads,
)

QUEUE_WORKERS = {"preprocess": "gait-worker-preprocess", "inference": "gait-worker-inference",
                 "training": "gait-worker-training"}


@cache
def celery_app_facts() -> dict:
    """What workers/celery_app.py configures, asked of the app itself in a fresh interpreter (it sets
    Django up): its queues, each registered task's queue (Celery's own router) and time limit, the
    beat schedule, the Redis visibility timeout, prefetch and acks_late."""
    r = run_python(_INTROSPECT, {"GAIT_ENV": "development", "GAIT_VAR_DIR": tempfile.mkdtemp(prefix="gait-k8s-"),
                                 "GAIT_BROKER_URL": "redis://127.0.0.1:1/0"})  # never connected to
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


_INTROSPECT = """
import json
from workers.celery_app import app
def queue_of(name):
    q = app.amqp.router.route({}, name, args=(), kwargs={}).get("queue")
    return getattr(q, "name", q)
def seconds(s):
    return float(s) if isinstance(s, (int, float)) else float(s.run_every.total_seconds())
tasks = {n: {"queue": queue_of(n), "time_limit": t.time_limit} for n, t in app.tasks.items() if not n.startswith("celery.")}
beat = {k: {"task": v["task"], "queue": queue_of(v["task"]), "every_s": seconds(v["schedule"])}
        for k, v in app.conf.beat_schedule.items()}
print(json.dumps({"queues": [q.name for q in app.conf.task_queues], "tasks": tasks, "beat": beat,
                  "visibility_timeout": app.conf.broker_transport_options.get("visibility_timeout"),
                  "prefetch": app.conf.worker_prefetch_multiplier, "acks_late": app.conf.task_acks_late}))
"""


def _services_in_code() -> dict:
    from gaitsite.config import VARIABLES

    return {v.name: v for v in VARIABLES}


def _objs_with_pods(objs):
    return [(o, pod_labels(o)) for o in workloads(objs)]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_selectors_and_references_resolve(overlay):
    objs = render(overlay)
    pods = _objs_with_pods(objs)
    names = {(o["kind"], o["metadata"]["name"]) for o in objs}
    for svc in by_kind(objs, "Service"):
        targets = [o for o, labels in pods if matches(svc["spec"]["selector"], labels)]
        assert targets, f"Service/{svc['metadata']['name']} selects no pods"
        for port in svc["spec"]["ports"]:
            for o in targets:
                named = {p["name"]: p["containerPort"] for c in containers(o, init=False) for p in c.get("ports", [])}
                tp = port["targetPort"]
                assert tp in named or tp in named.values(), f"Service/{svc['metadata']['name']}: no port {tp} on {o['metadata']['name']}"
    for pdb in by_kind(objs, "PodDisruptionBudget"):
        assert any(matches(pdb["spec"]["selector"], labels) for _, labels in pods), pdb["metadata"]["name"]
    for dep in by_kind(objs, "Deployment") + by_kind(objs, "StatefulSet"):
        assert matches(dep["spec"]["selector"], pod_labels(dep)), dep["metadata"]["name"]
    scaled = {}
    for kind, ref in [("HorizontalPodAutoscaler", lambda o: o["spec"]["scaleTargetRef"]),
                      ("ScaledObject", lambda o: o["spec"]["scaleTargetRef"])]:
        for o in by_kind(objs, kind):
            target = ref(o)
            assert (target.get("kind", "Deployment"), target["name"]) in names, f"{kind}/{o['metadata']['name']}"
            assert target["name"] not in scaled, f"{target['name']} is scaled twice ({scaled.get(target['name'])}, {kind})"
            scaled[target["name"]] = kind
    for name in scaled:  # an apply must not reset what the autoscaler set
        assert "replicas" not in find(objs, "Deployment", name)["spec"], f"{name}: spec.replicas under an autoscaler"
    auths = {o["metadata"]["name"] for o in by_kind(objs, "TriggerAuthentication")}
    secrets = {o["metadata"]["name"] for o in by_kind(objs, "Secret")} | EXTERNAL_SECRETS
    for so in by_kind(objs, "ScaledObject"):
        for trig in so["spec"]["triggers"]:
            assert trig["authenticationRef"]["name"] in auths
    for ta in by_kind(objs, "TriggerAuthentication"):
        for ref in ta["spec"]["secretTargetRef"]:
            assert ref["name"] in secrets, ref
    for ing in by_kind(objs, "Ingress"):
        assert "cert-manager.io/cluster-issuer" in ing["metadata"]["annotations"] and ing["spec"]["tls"]
        hosts = {h for t in ing["spec"]["tls"] for h in t["hosts"]}
        for rule in ing["spec"]["rules"]:
            assert rule["host"] in hosts
            for path in rule["http"]["paths"]:
                svc = find(objs, "Service", path["backend"]["service"]["name"])
                assert path["backend"]["service"]["port"]["name"] in {p["name"] for p in svc["spec"]["ports"]}
    configmaps = {o["metadata"]["name"] for o in by_kind(objs, "ConfigMap")}
    for o in workloads(objs):
        for c in containers(o):
            for src in c.get("envFrom", []):
                if "configMapRef" in src:
                    assert src["configMapRef"]["name"] in configmaps
                else:
                    assert src["secretRef"]["name"] in secrets
        assert (("ServiceAccount", pod_spec(o).get("serviceAccountName", "default")) in names
                or "serviceAccountName" not in pod_spec(o))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_config_and_secret_cover_every_variable_of_the_platform(overlay):
    objs = render(overlay)
    code = _services_in_code()
    config = find_prefix(objs, "ConfigMap", "gait-config")["data"]
    secret_keys = set(env_file_keys(K8S / "overlays" / overlay / "gait-secrets.secret.env.example"))
    if overlay == "dev":  # generated from the env file: the rendered Secret holds exactly those keys
        assert set(find_prefix(objs, "Secret", "gait-secrets")["data"]) == secret_keys
    missing = set(code) - set(config) - secret_keys
    assert not missing, f"variables of platform/gaitsite/config.py in neither gait-config nor gait-secrets: {missing}"
    assert not set(config) & secret_keys, "a variable is both in the ConfigMap and the Secret"
    assert secret_keys == {"GAIT_SECRET_KEY", "DATABASE_URL", "GAIT_BROKER_URL", "GAIT_RESULT_BACKEND",
                           "GAIT_CACHE_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "GAIT_HEALTH_TOKEN"}
    assert config["GAIT_ENV"] == "production"
    # production-required variables have values (the secret ones: in the example, as placeholders)
    for name, var in code.items():
        if var.required_in_production and name in config:
            assert config[name], name


def _known_variables() -> set[str]:
    import importlib.util

    names = set(_services_in_code())
    names |= set(re.findall(r"`(GAIT_[A-Z_]+)`", (REPO / "workers" / "config.py").read_text()))
    spec = importlib.util.spec_from_file_location("serve_champion", K8S / "images" / "serve_champion.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    names |= set(mod.VARIABLES)
    # the training launcher's settings (its module docstring lists them)
    names |= set(re.findall(r"``(GAIT_[A-Z0-9_]+)``", (REPO / "workers" / "launchers" / "kubernetes.py").read_text()))
    # TorchServe's process (serving/server.py sets the same), PostgreSQL/Redis/MinIO images of the dev overlay
    names |= {"OMP_NUM_THREADS", "MKL_NUM_THREADS", "TEMP", "TMPDIR", "LOG_LOCATION", "METRICS_LOCATION", "HOME",
              "POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD", "PGDATA", "REDIS_PASSWORD",
              "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"}
    return names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_the_manifests_set_is_read_by_some_code(overlay):
    objs = render(overlay)
    known = _known_variables()
    for cm in by_kind(objs, "ConfigMap"):
        unknown = set(cm["data"]) - known
        assert not unknown, f"ConfigMap/{cm['metadata']['name']} sets variables no code reads: {unknown}"
    for o in workloads(objs):
        for c in containers(o):
            unknown = {e["name"] for e in c.get("env", [])} - known
            assert not unknown, f"{o['metadata']['name']}[{c['name']}]: {unknown}"


def _entrypoint_roles() -> set[str]:
    text = (K8S / "images" / "entrypoint.sh").read_text()
    return set(re.findall(r"^  ([a-z-]+)\)$", text, re.M))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_ports_and_commands_match_the_code(overlay):
    objs = render(overlay)
    roles = _entrypoint_roles()
    assert {"web", "worker", "ping", "sweep", "migrate", "serve-fetch", "serve", "gaitfm"} <= roles
    for o in workloads(objs):
        for c in containers(o):
            if "/gait:" not in c["image"]:
                continue
            assert c["args"][0] in roles, f"{o['metadata']['name']}[{c['name']}]: unknown role {c['args'][0]}"
            for probe in ("livenessProbe", "readinessProbe"):
                cmd = c.get(probe, {}).get("exec", {}).get("command")
                if cmd:
                    assert cmd[0] == "/app/k8s/images/entrypoint.sh" and cmd[1] in roles
    # web: gunicorn listens where the Service sends, and the probe's Host is an allowed host
    web = find(objs, "Deployment", "gait-web")
    (wc,) = pod_spec(web)["containers"]
    assert "0.0.0.0:${PORT:-8000}" in (K8S / "images" / "entrypoint.sh").read_text()
    assert "-b 0.0.0.0:8000" in (REPO / "platform" / "gaitsite" / "gunicorn.conf.py").read_text()
    assert wc["ports"] == [{"name": "http", "containerPort": 8000}]
    config = find_prefix(objs, "ConfigMap", "gait-config")["data"]
    allowed = config["GAIT_ALLOWED_HOSTS"].split(",")
    for probe in ("livenessProbe", "readinessProbe"):
        assert wc[probe]["httpGet"]["path"] == "/healthz"
        assert wc[probe]["httpGet"]["httpHeaders"] == [{"name": "Host", "value": "localhost"}]
    assert "localhost" in allowed
    for ing in by_kind(objs, "Ingress"):
        assert all(r["host"] in allowed for r in ing["spec"]["rules"])
    # TorchServe: the workers' URL names the Service and the port TorchServe is configured with
    from serving.config import ServeConfig

    serving = find_prefix(objs, "ConfigMap", "gait-serving")["data"]
    url = urlparse(config["GAIT_TORCHSERVE_URL"])
    ts = find(objs, "Deployment", "gait-torchserve")
    svc = find(objs, "Service", url.hostname)
    assert matches(svc["spec"]["selector"], pod_labels(ts))
    assert url.port == svc["spec"]["ports"][0]["port"] == int(serving["GAIT_SERVE_PORT"]) == ServeConfig(run_dir=".").inference_port
    tc, sync = pod_spec(ts)["containers"]
    assert (tc["name"], sync["name"]) == ("torchserve", "serve-sync")
    assert tc["ports"] == [{"name": "inference", "containerPort": int(serving["GAIT_SERVE_PORT"])}]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert tc[probe]["httpGet"] == {"path": "/ping", "port": "inference"}
    assert config["GAIT_INFERENCE_BACKEND"] == "torchserve" and config["GAIT_TORCHSERVE_TOKEN_FILE"] == ""
    gpu = "nvidia.com/gpu" in tc["resources"]["limits"]
    assert gpu == (overlay == "prod")
    if gpu:
        assert pod_spec(ts)["nodeSelector"] and any(t["key"] == "nvidia.com/gpu" for t in pod_spec(ts)["tolerations"])
        assert tc["image"].endswith("-cuda") and pod_spec(ts)["initContainers"][0]["image"] == tc["image"]
    # the sync sidecar: the same image, the served set's pointer and the storage credentials, the pod's
    # serve dir and tmp shared with TorchServe, no port of its own (it talks to loopback and storage), and
    # the readiness gate that TorchServe serves the set's default
    assert sync["image"] == tc["image"] and sync["args"] == ["serve-sync"] and "ports" not in sync
    assert {"configMapRef": {"name": find_prefix(objs, "ConfigMap", "gait-config")["metadata"]["name"]}} in sync["envFrom"]
    assert not any("secretRef" in src for src in sync["envFrom"])  # of the secrets only the storage keys
    secret = find_prefix(objs, "Secret", "gait-secrets")["metadata"]["name"] if overlay == "dev" else "gait-secrets"
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in sync["env"] if "valueFrom" in e}
    assert refs == {k: {"name": secret, "key": k} for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    assert config["GAIT_TORCHSERVE_SERVED_POINTER"] and float(config["GAIT_TORCHSERVE_SYNC_TIMEOUT_S"]) > 0
    assert float(serving["GAIT_SERVE_SYNC_INTERVAL_S"]) > 0
    assert {m["mountPath"] for m in sync["volumeMounts"]} == {m["mountPath"] for m in tc["volumeMounts"]}
    assert sync["readinessProbe"]["exec"]["command"] == ["/app/k8s/images/entrypoint.sh", "serve-sync-check"]
    assert sync["livenessProbe"]["exec"]["command"][1:] == ["serve-sync-check", "--live"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_worker_per_queue_scaled_on_its_real_backlog(overlay):
    from kombu.transport.redis import PRIORITY_STEPS, Channel

    objs = render(overlay)
    facts = celery_app_facts()
    queues = facts["queues"]
    assert set(QUEUE_WORKERS) <= set(queues)
    hard = {}
    for task in facts["tasks"].values():
        hard[task["queue"]] = max(hard.get(task["queue"], 0), task["time_limit"] or 0)
    for queue, name in QUEUE_WORKERS.items():
        dep = find(objs, "Deployment", name)
        (c,) = pod_spec(dep)["containers"]
        assert c["args"][0] == "worker" and queue in c["args"][1].split(",")
        grace = pod_spec(dep)["terminationGracePeriodSeconds"]
        # a scale-in's SIGTERM lets the running task finish: grace above its hard time limit, and at most
        # the broker's redelivery of unacknowledged messages (or a finishing task would run twice)
        assert hard.get(queue, 0) < grace <= facts["visibility_timeout"], (queue, grace, hard.get(queue))
        so = find(objs, "ScaledObject", name)
        assert so["spec"]["scaleTargetRef"]["name"] == name
        lists = [t["metadata"]["listName"] for t in so["spec"]["triggers"] if t["type"] == "redis"]
        assert lists == [queue if p == 0 else f"{queue}{Channel.sep}{p}" for p in PRIORITY_STEPS]
        formula = so["spec"]["advanced"]["scalingModifiers"]["formula"]
        assert sorted(formula.replace(" ", "").split("+")) == sorted(t["name"] for t in so["spec"]["triggers"])
        assert so["spec"]["minReplicaCount"] >= 1  # a running task is not in the list: never scale to zero under it
    # every queue a worker consumes is declared, and every task (periodic ones too) has a worker for its queue
    consumed = {q for o in by_kind(objs, "Deployment") for c in pod_spec(o)["containers"]
                if c.get("args", [""])[0] == "worker" for q in c["args"][1].split(",")}
    assert consumed <= set(queues)
    assert {t["queue"] for t in facts["tasks"].values()} | {b["queue"] for b in facts["beat"].values()} <= consumed
    # prefetch 1 + acks_late: a worker takes only what its processes run, so the lists hold the real backlog
    assert facts["prefetch"] == 1 and facts["acks_late"] is True


def test_beat_is_one_replica_and_its_tasks_have_workers():
    for overlay in OVERLAYS:
        objs = render(overlay)
        beat = find(objs, "Deployment", "gait-beat")
        assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"] == {"type": "Recreate"}
        assert pod_spec(beat)["containers"][0]["args"] == ["beat"]
    facts = celery_app_facts()
    assert facts["beat"], "the app schedules no periodic task"
    # the probe's threshold (15 min) covers a few periods of every entry (beat syncs its file when it sends)
    assert all(b["every_s"] <= 300 for b in facts["beat"].values()), facts["beat"]
    # `entrypoint.sh sweep` (run the sweeper now) sends a task the beat schedule names
    sweep = re.search(r"call (\S+) --queue (\S+)", (K8S / "images" / "entrypoint.sh").read_text())
    assert sweep.group(1) in {b["task"] for b in facts["beat"].values()}
    assert facts["tasks"][sweep.group(1)]["queue"] == sweep.group(2)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migrations_job_carries_the_release(overlay):
    objs = render(overlay)
    (job,) = by_kind(objs, "Job")
    web_image = pod_spec(find(objs, "Deployment", "gait-web"))["containers"][0]["image"]
    release = web_image.rsplit(":", 1)[1]
    assert job["metadata"]["name"] == f"gait-migrate-{release}"
    assert pod_spec(job)["containers"][0]["image"] == web_image
    assert pod_spec(job)["containers"][0]["args"] == ["migrate"]
    # every gait image of the overlay is the same release (the CUDA variant adds -cuda)
    tags = {c["image"].rsplit(":", 1)[1].removesuffix("-cuda") for o in workloads(objs) for c in containers(o)
            if "/gait" in c["image"]}
    assert tags == {release}


# The launcher's client calls (workers/launchers/kubernetes.py) -> the (resource, verb) each needs.
_CALL_VERBS = {"create": "create", "read": "get", "list": "list", "delete": "delete", "patch": "patch",
               "replace": "update"}
_RESOURCES = {"job": ("batch", "jobs"), "pod": ("", "pods"), "service": ("", "services"), "pod_log": ("", "pods/log")}


def _launcher_needs() -> set[tuple[str, str, str]]:
    text = (REPO / "workers" / "launchers" / "kubernetes.py").read_text()
    needs = set()
    for verb, resource in re.findall(r"\.(create|read|list|delete|patch|replace)_namespaced_(pod_log|job|pod|service)\b", text):
        group, res = _RESOURCES[resource]
        needs.add((group, res, _CALL_VERBS[verb]))
    if "watch.Watch()" in text:  # a watch streams a list call
        for resource in re.findall(r"stream\(self\.\w+\.list_namespaced_(\w+)", text):
            group, res = _RESOURCES[resource]
            needs.add((group, res, "watch"))
    return needs


def _job_templates() -> list[dict]:
    import yaml

    return [d for f in sorted((K8S / "jobs").glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_launchers_training_jobs_fit_the_deployment(overlay):
    """What workers/launchers/kubernetes.py creates from k8s/jobs/ at run time can run here: its Role allows
    every call the launcher makes, the names the Job pods refer to exist unhashed, the NetworkPolicies
    let them reach storage and each other, and the pods pass the namespace's restricted policy."""
    objs = render(overlay)
    role = find(objs, "Role", "gait-launcher")
    granted = {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
               for v in rule["verbs"]}
    needs = _launcher_needs()
    assert ("batch", "jobs", "create") in needs and ("", "pods/log", "get") in needs
    assert needs <= granted, f"the launcher calls what its Role does not allow: {needs - granted}"
    configmaps = {o["metadata"]["name"] for o in by_kind(objs, "ConfigMap")}
    secrets = {o["metadata"]["name"] for o in by_kind(objs, "Secret")} | EXTERNAL_SECRETS
    accounts = {o["metadata"]["name"] for o in by_kind(objs, "ServiceAccount")}
    pols = by_kind(objs, "NetworkPolicy")
    jobs = [d for d in _job_templates() if d["kind"] == "Job" and "template" in d["spec"]]  # pod spec: pretrain.yaml
    assert jobs
    for job in jobs:
        spec = pod_spec(job)
        labels = pod_labels(job)
        assert spec["serviceAccountName"] in accounts and spec["automountServiceAccountToken"] is False
        for c in spec["containers"]:
            for src in c.get("envFrom", []):
                if "configMapRef" in src:
                    assert src["configMapRef"]["name"] in configmaps, src
                else:
                    assert src["secretRef"]["name"] in secrets, src
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] and sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] in (["ALL"], ["all"])
        assert spec["securityContext"]["runAsNonRoot"] and spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        allowed = {p["metadata"]["name"] for p in pols if p["spec"]["podSelector"] and matches(p["spec"]["podSelector"], labels)}
        assert {"allow-backing-services", "allow-training-job-peers"} <= allowed, allowed
    # the launcher gets its namespace from its pod and the image of the overlay's TorchServe
    worker = find(objs, "Deployment", "gait-worker-training")
    (c,) = pod_spec(worker)["containers"]
    env = {e["name"]: e for e in c["env"]}
    assert env["GAIT_K8S_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    ts_image = pod_spec(find(objs, "Deployment", "gait-torchserve"))["containers"][0]["image"]
    assert env["GAIT_TRAINING_IMAGE"]["value"] == ts_image
    training = find_prefix(objs, "ConfigMap", "gait-training")["data"]
    assert training["GAIT_CHECKPOINT_STORE"].startswith("s3://")
