"""The ``kubernetes`` launcher: a training job runs as a ``batch/v1`` Job in a cluster.

* render: :func:`render` turns a :class:`PretrainSpec` into manifests from the templates in ``k8s/jobs/``:
  one node = one pod running ``torchrun --standalone --nproc-per-node N -m gaitcore.cli pretrain ...
  --checkpoint-store URL --resume`` (:func:`pretrain_command`); several nodes = an Indexed Job plus a
  headless Service, every pod ``torchrun --nnodes N ... --rdzv-backend c10d`` with pod 0 as the endpoint.
* submit / poll / watch / logs / cancel / cleanup work on a *handle* (a JSON-able dict: namespace, names,
  checkpoint store, planned steps), which ``launch(job)`` stores in ``job.artifacts["launch"]``.
* pod outcomes become a readable reason (:func:`pod_problem`): OOMKilled, ImagePullBackOff /
  ErrImagePull, Evicted, a non-zero exit code, unschedulable; Job conditions DeadlineExceeded,
  BackoffLimitExceeded, PodFailurePolicy.
* progress comes from the checkpoint store's ``latest`` pointer (the step of the last checkpoint).

Cluster access: an explicit ``kubernetes.client.ApiClient``, else the in-cluster service account, else
the kubeconfig. Settings (environment): ``GAIT_K8S_NAMESPACE`` (default ``gait``), ``GAIT_TRAINING_IMAGE``
(the image the pods run), ``GAIT_CHECKPOINT_STORE`` (base URL; each job gets ``<base>/jobs/<id>``),
``GAIT_TRAINING_DATA`` (session folder(s) inside the pod, ``:``-separated), ``GAIT_TRAINING_DATA_CLAIM``
(a PersistentVolumeClaim mounted read-only at ``/data``).
"""

from __future__ import annotations

import copy
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .base import LaunchError

TEMPLATES = Path(__file__).resolve().parents[2] / "k8s" / "jobs"
CONTAINER = "trainer"
RDZV_PORT = 29400
JOB_LABEL = "gait/training-job"
JOB_ID_LABEL = "gait/training-job-id"  # the registry's TrainingJob id (every attempt's Job carries it)
PENDING, RUNNING, SUCCEEDED, FAILED = "pending", "running", "succeeded", "failed"
FINAL = (SUCCEEDED, FAILED)


@dataclass
class PretrainSpec:
    """What one pretraining Job runs; every field ends up in the manifest or the command line."""

    name: str  # the Job's name (DNS-1123 label, at most 52 characters: pods add a suffix)
    image: str
    checkpoint_store: str  # a path in the pod or s3://bucket/prefix
    data: list[str]  # session folders in the pod (when there is no data_store)
    config: str = "small"
    steps: int = 1000
    batch_size: int = 8
    ckpt_every: int = 100
    nodes: int = 1
    nproc_per_node: int = 1
    gpus_per_node: int = 0
    cpu: str = "2"
    memory: str = "8Gi"
    work_dir: str = "/scratch/run"
    data_claim: str = ""  # a PVC mounted read-only at /data
    namespace: str = "gait"
    deadline_s: int = 86400
    backoff_limit: int = 3
    labels: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)
    data_store: str = ""  # a job's exported snapshot (gaitcore.model.snapshot): the pod fetches and trains on it only

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?", self.name):
            raise LaunchError(f"job name {self.name!r} is not a DNS-1123 label of at most 52 characters")
        if self.nodes < 1 or self.nproc_per_node < 1:
            raise LaunchError("nodes and nproc_per_node must be at least 1")
        if self.batch_size % (self.nodes * self.nproc_per_node):
            raise LaunchError(f"batch size {self.batch_size} is not divisible by the "
                              f"{self.nodes * self.nproc_per_node} training processes")

    @property
    def service(self) -> str:
        return f"{self.name}-rdzv"


def pretrain_command(spec: PretrainSpec) -> list[str]:
    """The container's command line (the same under ``torchrun`` locally and in a pod)."""
    if spec.nodes == 1:
        launcher = ["torchrun", "--standalone", "--nnodes", "1", "--nproc-per-node", str(spec.nproc_per_node)]
    else:
        launcher = ["torchrun", "--nnodes", str(spec.nodes), "--nproc-per-node", str(spec.nproc_per_node),
                    "--rdzv-backend", "c10d", "--rdzv-id", spec.name,
                    "--rdzv-endpoint", f"{spec.name}-0.{spec.service}:{RDZV_PORT}", "--max-restarts", "3"]
    data = ["--data-store", spec.data_store] if spec.data_store else ["--data", *spec.data]
    return [*launcher, "-m", "gaitcore.cli", "pretrain", "--config", spec.config, *data,
            "--out", spec.work_dir, "--checkpoint-store", spec.checkpoint_store, "--resume",
            "--steps", str(spec.steps), "--batch-size", str(spec.batch_size), "--ckpt-every", str(spec.ckpt_every),
            "--no-progress", *spec.extra_args]


def _load(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((TEMPLATES / name).read_text()) if d]


def render(spec: PretrainSpec) -> list[dict]:
    """The manifests of one job, in creation order: [Job] or [Service, Indexed Job]."""
    job = copy.deepcopy(_load("pretrain.yaml")[0])
    labels = {**job["metadata"]["labels"], **spec.labels, JOB_LABEL: spec.name}
    job["metadata"].update(name=spec.name, namespace=spec.namespace, labels=labels)
    js = job["spec"]
    js.update(activeDeadlineSeconds=int(spec.deadline_s), backoffLimit=int(spec.backoff_limit))
    pod = js["template"]
    pod["metadata"]["labels"] = dict(labels)
    ps = pod["spec"]
    c = next(c for c in ps["containers"] if c["name"] == CONTAINER)
    c["image"] = spec.image
    c["args"] = pretrain_command(spec)  # command: the image's init (tini), which runs the args
    threads = max(1, int(float(spec.cpu)) // spec.nproc_per_node) if spec.cpu.replace(".", "").isdigit() else 1
    c["env"] = [*c.get("env", []), {"name": "OMP_NUM_THREADS", "value": str(threads)}]
    res = {"cpu": spec.cpu, "memory": spec.memory}
    c["resources"]["requests"].update(res)
    c["resources"]["limits"].update(res)
    if spec.gpus_per_node:
        c["resources"]["requests"]["nvidia.com/gpu"] = str(spec.gpus_per_node)
        c["resources"]["limits"]["nvidia.com/gpu"] = str(spec.gpus_per_node)
        ps["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    if spec.data_claim:
        ps["volumes"].append({"name": "data", "persistentVolumeClaim": {"claimName": spec.data_claim,
                                                                         "readOnly": True}})
        c["volumeMounts"].append({"name": "data", "mountPath": "/data", "readOnly": True})
    if spec.nodes == 1:
        return [job]
    svc, multi = (copy.deepcopy(d) for d in _load("pretrain-multinode.yaml"))
    svc["metadata"].update(name=spec.service, namespace=spec.namespace, labels=labels)
    svc["spec"]["selector"] = {JOB_LABEL: spec.name}
    js.update(completionMode=multi["spec"]["completionMode"], completions=spec.nodes, parallelism=spec.nodes,
              backoffLimit=max(int(spec.backoff_limit), int(multi["spec"]["backoffLimit"])))
    ps["subdomain"] = spec.service  # pod <job>-<index> resolves as <job>-<index>.<service>
    c["ports"] = [{"name": "rendezvous", "containerPort": RDZV_PORT, "protocol": "TCP"}]
    return [svc, job]


# --- outcomes -------------------------------------------------------------------------------------
@dataclass
class Status:
    state: str  # pending | running | succeeded | failed
    reason: str = ""
    progress: dict = field(default_factory=dict)
    pods: dict[str, str] = field(default_factory=dict)  # pod name -> phase

    @property
    def final(self) -> bool:
        return self.state in FINAL


IMAGE_ERRORS = ("ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull")
CONFIG_ERRORS = ("CreateContainerConfigError", "CreateContainerError", "RunContainerError")


def _get(obj, *path, default=None):
    """obj.a.b... on the client's model objects or on dicts (camelCase or snake_case keys)."""
    for p in path:
        if obj is None:
            return default
        if isinstance(obj, dict):
            camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), p)
            obj = obj.get(p, obj.get(camel))
        else:
            obj = getattr(obj, p, None)
    return default if obj is None else obj


def pod_problem(pod) -> tuple[str, bool] | None:
    """(readable reason, fatal) for a pod that is failing or cannot start; None if nothing is wrong.

    ``fatal``: retrying the same pod cannot help (a bad image, bad arguments); otherwise the Job
    controller's retry may (OOM under a spike, eviction, a crash)."""
    name = _get(pod, "metadata", "name", default="?")
    if _get(pod, "status", "reason") == "Evicted":
        return (f"pod {name} was evicted by its node ({_get(pod, 'status', 'message', default='no message')}); "
                "the Job replaces it and the run resumes from its last checkpoint", False)
    for cs in _get(pod, "status", "container_statuses", default=[]) or []:
        cname = _get(cs, "name")
        waiting = _get(cs, "state", "waiting")
        wreason = _get(waiting, "reason", default="")
        if wreason in IMAGE_ERRORS:
            return (f"the image {_get(cs, 'image', default='?')!r} of pod {name} cannot be pulled ({wreason}: "
                    f"{_get(waiting, 'message', default='no message')}); check the image name, tag and registry "
                    "credentials", True)
        if wreason in CONFIG_ERRORS:
            return (f"container {cname} of pod {name} cannot start ({wreason}: "
                    f"{_get(waiting, 'message', default='no message')})", True)
        term = _get(cs, "state", "terminated") or _get(cs, "last_state", "terminated")
        if term is not None and _get(term, "exit_code", default=0) != 0:
            code, treason = _get(term, "exit_code"), _get(term, "reason", default="Error")
            if treason == "OOMKilled":
                return (f"out of memory: container {cname} of pod {name} was killed at its memory limit "
                        f"(OOMKilled, exit code {code}); raise the job's memory or lower --batch-size / use "
                        "--micro-batch", False)
            msg = (_get(term, "message") or "").strip().splitlines()
            tail = f": {msg[-1]}" if msg else ""
            if code == 2:
                return f"container {cname} of pod {name} refused its arguments or data (exit code 2){tail}", True
            return f"container {cname} of pod {name} exited with code {code} ({treason}){tail}", False
    for cond in _get(pod, "status", "conditions", default=[]) or []:
        if _get(cond, "type") == "PodScheduled" and _get(cond, "status") == "False" and \
                _get(cond, "reason") == "Unschedulable":
            return (f"pod {name} cannot be scheduled: {_get(cond, 'message', default='no node fits')}", False)
    return None


def job_outcome(job, pods: list) -> Status:
    """The state and reason of a Job from its conditions and its pods' statuses."""
    phases = {_get(p, "metadata", "name", default="?"): _get(p, "status", "phase", default="Pending") for p in pods}
    problems = [pp for pp in (pod_problem(p) for p in _newest_first(pods)) if pp]
    for cond in _get(job, "status", "conditions", default=[]) or []:
        if _get(cond, "status") != "True":
            continue
        ctype, creason = _get(cond, "type"), _get(cond, "reason", default="")
        if ctype == "Complete" or (ctype == "SuccessCriteriaMet"):
            return Status(SUCCEEDED, "the Job completed", pods=phases)
        if ctype in ("Failed", "FailureTarget"):
            last = f"; last pod failure: {problems[0][0]}" if problems else ""
            if creason == "DeadlineExceeded":
                why = (f"the Job ran longer than its deadline of {_get(job, 'spec', 'active_deadline_seconds')} s "
                       "(activeDeadlineSeconds) and was stopped")
            elif creason == "BackoffLimitExceeded":
                why = (f"the pods failed {_get(job, 'status', 'failed', default='?')} times, more than the backoff "
                       f"limit of {_get(job, 'spec', 'backoff_limit')}")
            elif creason == "PodFailurePolicy":
                why = "a pod failed in a way that retrying cannot fix (pod failure policy)"
            else:
                why = f"the Job failed ({creason or 'no reason given'}: {_get(cond, 'message', default='')})"
            return Status(FAILED, why + last, pods=phases)
    fatal = [r for r, f in problems if f]
    if fatal:
        return Status(FAILED, fatal[0], pods=phases)
    if any(ph == "Running" for ph in phases.values()):
        return Status(RUNNING, problems[0][0] if problems else "", pods=phases)
    return Status(PENDING, problems[0][0] if problems else ("waiting for a pod" if not pods else "pod pending"),
                  pods=phases)


def _newest_first(pods: list) -> list:
    def key(p):
        ts = _get(p, "metadata", "creation_timestamp")
        return (str(ts) if ts is not None else "", _get(p, "metadata", "name", default=""))

    return sorted(pods, key=key, reverse=True)


def _fingerprint(pod) -> str:
    import json

    return json.dumps(pod.status.to_dict() if pod.status is not None else None, sort_keys=True, default=str)


# --- the launcher ---------------------------------------------------------------------------------
class KubernetesLauncher:
    """Creates, watches, cancels and cleans up pretraining Jobs (see the module docstring)."""

    name = "kubernetes"

    def __init__(self, api_client=None, namespace: str | None = None):
        self.namespace = namespace or os.environ.get("GAIT_K8S_NAMESPACE", "gait")
        self._api_client = api_client

    # -- client ------------------------------------------------------------------------------------
    @property
    def api_client(self):
        if self._api_client is None:
            from kubernetes import client, config

            try:
                config.load_incluster_config()
            except config.ConfigException:
                try:
                    config.load_kube_config(config_file=os.environ.get("KUBECONFIG") or None)  # read now
                except (config.ConfigException, OSError) as exc:
                    raise LaunchError(f"no Kubernetes cluster configured (in-cluster or kubeconfig): {exc}") from exc
            self._api_client = client.ApiClient()
        return self._api_client

    @property
    def batch(self):
        from kubernetes import client

        return client.BatchV1Api(self.api_client)

    @property
    def core(self):
        from kubernetes import client

        return client.CoreV1Api(self.api_client)

    # -- the registry's Launcher protocol (workers.launchers.base) ----------------------------------
    def launch(self, job) -> dict:
        return self.submit(spec_for_job(job, self.namespace))

    def cancel(self, job) -> None:
        handle = (job.artifacts or {}).get("launch")
        if handle:
            self.stop(handle)

    def alive(self, job) -> bool | None:
        handle = (job.artifacts or {}).get("launch")
        if not handle:
            return None
        return not self.poll(handle).final

    # -- handle-level operations -------------------------------------------------------------------
    def submit(self, spec: PretrainSpec) -> dict:
        """Create the job's objects (Service first, then the Job); returns its handle."""
        from kubernetes.client import ApiException

        created: list[tuple[str, str]] = []
        try:
            for obj in render(spec):
                if obj["kind"] == "Service":
                    self.core.create_namespaced_service(spec.namespace, obj)
                else:
                    self.batch.create_namespaced_job(spec.namespace, obj)
                created.append((obj["kind"], obj["metadata"]["name"]))
        except ApiException as exc:
            for kind, name in created:  # nothing half-created stays behind
                self._delete(kind, spec.namespace, name, "Background")
            raise LaunchError(f"Kubernetes refused the Job {spec.name}: {exc.status} {exc.reason}: "
                              f"{_api_message(exc)}") from exc
        return {"backend": self.name, "namespace": spec.namespace, "job": spec.name,
                "service": spec.service if spec.nodes > 1 else "", "nodes": spec.nodes,
                "checkpoint_store": spec.checkpoint_store, "steps": spec.steps}

    def find(self, spec: PretrainSpec, job_id: int) -> dict | None:
        """The handle of a Job already created for training job ``job_id`` that has not ended (a follower
        that died between creating it and recording its handle), or None."""
        ret = self.batch.list_namespaced_job(spec.namespace, label_selector=f"{JOB_ID_LABEL}={job_id}")
        for obj in sorted(ret.items, key=lambda o: o.metadata.name):
            if (obj.metadata.labels or {}).get(JOB_ID_LABEL) != str(job_id):
                continue
            handle = {"backend": self.name, "namespace": spec.namespace, "job": obj.metadata.name,
                      "service": f"{obj.metadata.name}-rdzv" if spec.nodes > 1 else "", "nodes": spec.nodes,
                      "checkpoint_store": spec.checkpoint_store, "steps": spec.steps}
            if not self.poll(handle).final:
                return handle
        return None

    def pods(self, handle: dict) -> list:
        """The Job's pods (the label selector is also checked here, not only by the server)."""
        ret = self.core.list_namespaced_pod(handle["namespace"], label_selector=f"job-name={handle['job']}")
        return [p for p in ret.items if (p.metadata.labels or {}).get("job-name") == handle["job"]]

    def poll(self, handle: dict) -> Status:
        return self._look(handle)[0]

    def _look(self, handle: dict) -> tuple[Status, list]:
        from kubernetes.client import ApiException

        try:
            job = self.batch.read_namespaced_job(handle["job"], handle["namespace"])
        except ApiException as exc:
            if exc.status == 404:
                return Status(FAILED, f"the Kubernetes Job {handle['job']} no longer exists (deleted outside the "
                                      "platform, or cleaned up)"), []
            raise LaunchError(f"cannot read the Job {handle['job']}: {exc.status} {exc.reason}") from exc
        pods = self.pods(handle)
        status = job_outcome(job, pods)
        status.progress = self.progress(handle)
        return status, pods

    def progress(self, handle: dict) -> dict:
        """{"step", "steps"} from the checkpoint store's latest pointer ({} if it cannot be read yet)."""
        from gaitcore.model.store import CheckpointStore, StoreError

        try:
            ptr = CheckpointStore.open(handle["checkpoint_store"]).latest()
        except (StoreError, OSError):
            return {}
        return {"step": int(ptr["step"]), "steps": handle.get("steps"), "checkpoint": ptr["key"]} if ptr else {}

    def watch(self, handle: dict, timeout_s: float = 3600, on_status=None, recheck_s: float = 10) -> Status:
        """Follow the Job until it succeeds or fails (or ``timeout_s`` passes). A watch on its pods wakes the
        check as soon as a pod changes; Job-level changes (a deadline, a deletion) are seen within
        ``recheck_s``."""
        from kubernetes import watch

        deadline = time.monotonic() + timeout_s
        last = None
        while True:
            st, pods = self._look(handle)
            if on_status is not None and (st.state, st.reason, st.progress) != last:
                on_status(st)
            last = (st.state, st.reason, st.progress)
            left = deadline - time.monotonic()
            if st.final or left <= 0:
                return st
            seen = {p.metadata.name: _fingerprint(p) for p in pods}
            window = max(1.0, min(left, recheck_s))
            w = watch.Watch()
            try:  # the stream starts with the pods as they are (ADDED): only a difference wakes us
                for event in w.stream(self.core.list_namespaced_pod, handle["namespace"],
                                      label_selector=f"job-name={handle['job']}", timeout_seconds=int(window),
                                      _request_timeout=window + 2):
                    obj = event["object"]
                    if (obj.metadata.labels or {}).get("job-name") != handle["job"]:
                        continue
                    if event["type"] == "DELETED" or seen.get(obj.metadata.name) != _fingerprint(obj):
                        break
            except Exception:  # noqa: BLE001 - a watch that drops or times out only ends this wait
                pass
            finally:
                w.stop()

    def logs(self, handle: dict, tail_lines: int = 200) -> str:
        """The last lines of the trainer's log (pod 0 of several; the newest pod of a retried Job)."""
        pods = _newest_first(self.pods(handle))
        if not pods:
            return ""
        index0 = [p for p in pods if (p.metadata.annotations or {}).get("batch.kubernetes.io/job-completion-index")
                  in ("0", None)]
        pod = (index0 or pods)[0]
        resp = self.core.read_namespaced_pod_log(pod.metadata.name, handle["namespace"], container=CONTAINER,
                                                 tail_lines=tail_lines, _preload_content=False)
        return resp.data.decode("utf-8", "replace")

    def stream_logs(self, handle: dict, pod_name: str) -> Iterator[str]:
        """Follow one pod's log line by line until the container ends."""
        resp = self.core.read_namespaced_pod_log(pod_name, handle["namespace"], container=CONTAINER, follow=True,
                                                 _preload_content=False)
        buf = b""
        for chunk in resp.stream(4096):
            buf += chunk
            *lines, buf = buf.split(b"\n")
            yield from (ln.decode("utf-8", "replace") for ln in lines)
        if buf:
            yield buf.decode("utf-8", "replace")

    def stop(self, handle: dict) -> None:
        """Cancel: delete the Job with foreground propagation (its pods go first: SIGTERM, then the grace
        period) and the rendezvous Service. The checkpoints stay in the store."""
        self._delete("Job", handle["namespace"], handle["job"], "Foreground")
        if handle.get("service"):
            self._delete("Service", handle["namespace"], handle["service"], "Background")

    def cleanup(self, handle: dict) -> list[str]:
        """Remove everything the job created in the cluster (Job, Service, pods left behind); returns what
        was deleted. Safe to call twice."""
        gone = []
        if self._delete("Job", handle["namespace"], handle["job"], "Background"):
            gone.append(f"job/{handle['job']}")
        if handle.get("service") and self._delete("Service", handle["namespace"], handle["service"], "Background"):
            gone.append(f"service/{handle['service']}")
        for p in self.pods(handle):
            if self._delete("Pod", handle["namespace"], p.metadata.name, "Background"):
                gone.append(f"pod/{p.metadata.name}")
        return gone

    def _delete(self, kind: str, namespace: str, name: str, propagation: str) -> bool:
        from kubernetes.client import ApiException, V1DeleteOptions

        body = V1DeleteOptions(propagation_policy=propagation)
        fn = {"Job": self.batch.delete_namespaced_job, "Service": self.core.delete_namespaced_service,
              "Pod": self.core.delete_namespaced_pod}[kind]
        try:
            fn(name, namespace, body=body)
            return True
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise LaunchError(f"cannot delete {kind} {name}: {exc.status} {exc.reason}") from exc


def _api_message(exc) -> str:
    import json

    try:
        return json.loads(exc.body).get("message", "")
    except (TypeError, ValueError, AttributeError):
        return str(exc.body or "")[:300]


def spec_for_job(job, namespace: str | None = None) -> PretrainSpec:
    """The Job spec of a ``pretrain-encoder`` training job (``job.config`` holds its settings)."""
    kind = getattr(job, "kind", "")
    if kind != "pretrain-encoder":
        raise LaunchError(f"the kubernetes launcher runs pretrain-encoder jobs, not {kind!r}")
    cfg = dict(job.config or {})
    image = cfg.get("image") or os.environ.get("GAIT_TRAINING_IMAGE", "")
    base = os.environ.get("GAIT_CHECKPOINT_STORE", "")
    if not image or not base:
        raise LaunchError("GAIT_TRAINING_IMAGE and GAIT_CHECKPOINT_STORE must be set for the kubernetes launcher")
    data = cfg.get("data") or [d for d in os.environ.get("GAIT_TRAINING_DATA", "/data").split(":") if d]
    attempt = int(getattr(job, "attempts", 0) or 0)
    name = f"gait-pretrain-{job.pk}" + (f"-a{attempt}" if attempt > 1 else "")
    keys = ("config", "steps", "batch_size", "ckpt_every", "nodes", "nproc_per_node", "gpus_per_node", "cpu",
            "memory", "deadline_s", "backoff_limit")
    store = f"{base.rstrip('/')}/jobs/{job.pk}"
    # a job of the registry has a frozen snapshot: the pod trains on its exported files only
    # (workers.pretrain.export_job_data writes them to <store>/data before the Job is created)
    data_store = f"{store}/data" if getattr(job, "snapshot_hash", "") else ""
    extra = ["--seed", str(cfg["seed"])] if "seed" in cfg else []
    for key, flag in (("lr", "--lr"), ("warmup_steps", "--warmup-steps"), ("val_fraction", "--val-fraction"),
                      ("log_every", "--log-every"), ("micro_batch", "--micro-batch")):
        if key in cfg:
            extra += [flag, str(cfg[key])]
    return PretrainSpec(name=name, image=image, checkpoint_store=store, data=list(data), data_store=data_store,
                        extra_args=extra,
                        namespace=namespace or os.environ.get("GAIT_K8S_NAMESPACE", "gait"),
                        data_claim=cfg.get("data_claim", os.environ.get("GAIT_TRAINING_DATA_CLAIM", "")),
                        labels={"gait/job-kind": kind, JOB_ID_LABEL: str(job.pk)},
                        **{k: cfg[k] for k in keys if k in cfg})
