"""The ``kubernetes`` launcher against a real HTTP server speaking the Kubernetes API (kmock's emulator)
with the official client: submit, watch, progress, logs, pod outcomes mapped to readable reasons
(OOMKilled, ImagePullBackOff, Evicted, exit codes, deadline, backoff limit), cancel and cleanup; and every
manifest it renders validates strictly (kubernetes-validate) for the Kubernetes versions the deployment
targets (1.35 and 1.37, as the deployment's manifests)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from workers.launchers import Launcher, LaunchError, get_launcher
from workers.launchers.kubernetes import (
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    KubernetesLauncher,
    PretrainSpec,
    pretrain_command,
    render,
)

K8S_VERSIONS = ("1.35.0", "1.37.0")
NS = "gait"


def spec(**kw) -> PretrainSpec:
    base = dict(name="gait-pretrain-7", image="registry.example/gait:1.2.3", checkpoint_store="s3://ckpt/jobs/7",
                data=["/data/sessions"], config="tiny", steps=200, batch_size=8, ckpt_every=20, namespace=NS)
    return PretrainSpec(**{**base, **kw})


SPECS = {
    "one-node-cpu": spec(nproc_per_node=2),
    "one-node-gpus": spec(nproc_per_node=4, gpus_per_node=4, cpu="16", memory="64Gi", data_claim="gait-sessions"),
    "four-nodes": spec(nodes=4, nproc_per_node=2, gpus_per_node=2, batch_size=16),
    "snapshot": spec(nproc_per_node=2, data_store="s3://ckpt/jobs/7/data"),
}


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("case", sorted(SPECS))
def test_rendered_manifests_validate_strictly(case, version):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    objs = render(SPECS[case])
    assert [o["kind"] for o in objs] == (["Service", "Job"] if SPECS[case].nodes > 1 else ["Job"])
    for obj in objs:
        kubernetes_validate.validate(obj, version, strict=True)


def test_validation_is_strict_enough_to_catch_a_typo():
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    job = render(SPECS["one-node-cpu"])[0]
    job["spec"]["template"]["spec"]["containers"][0]["resource"] = {}  # misspelt field
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, K8S_VERSIONS[0], strict=True)


def test_single_node_job_runs_torchrun_standalone():
    s = SPECS["one-node-gpus"]
    (job,) = render(s)
    pod = job["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["command"] == ["/usr/bin/tini", "--"] and c["args"] == pretrain_command(s)
    assert c["args"][:6] == ["torchrun", "--standalone", "--nnodes", "1", "--nproc-per-node", "4"]
    args = c["args"]
    assert args[args.index("--checkpoint-store") + 1] == "s3://ckpt/jobs/7" and "--resume" in args
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "4" and c["resources"]["limits"]["memory"] == "64Gi"
    assert {"name": "OMP_NUM_THREADS", "value": "4"} in c["env"]
    assert {"name": "data", "mountPath": "/data", "readOnly": True} in c["volumeMounts"]
    assert pod["restartPolicy"] == "Never" and job["spec"]["podFailurePolicy"]["rules"]
    assert job["metadata"]["labels"]["gait/training-job"] == "gait-pretrain-7"
    assert job["metadata"]["namespace"] == NS and "completionMode" not in job["spec"]


def test_several_nodes_are_an_indexed_job_with_a_headless_service_and_c10d():
    s = SPECS["four-nodes"]
    svc, job = render(s)
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["publishNotReadyAddresses"] is True
    assert svc["spec"]["selector"] == {"gait/training-job": s.name}
    assert job["spec"]["completionMode"] == "Indexed" and job["spec"]["completions"] == job["spec"]["parallelism"] == 4
    pod = job["spec"]["template"]["spec"]
    assert pod["subdomain"] == svc["metadata"]["name"]
    assert pod["containers"][0]["ports"][0]["containerPort"] == 29400
    cmd = pretrain_command(s)
    assert "--standalone" not in cmd
    assert cmd[cmd.index("--rdzv-backend") + 1] == "c10d"
    assert cmd[cmd.index("--rdzv-endpoint") + 1] == f"{s.name}-0.{s.name}-rdzv:29400"
    assert cmd[cmd.index("--nnodes") + 1] == "4" and cmd[cmd.index("--nproc-per-node") + 1] == "2"


def test_a_registry_job_trains_on_its_exported_snapshot_only(monkeypatch):
    from workers.launchers.kubernetes import spec_for_job

    monkeypatch.setenv("GAIT_TRAINING_IMAGE", "registry.example/gait:1.2.3")
    monkeypatch.setenv("GAIT_CHECKPOINT_STORE", "s3://ckpt")
    job = SimpleNamespace(pk=9, kind="pretrain-encoder", attempts=1, artifacts={}, snapshot_hash="ab" * 32,
                          config={"config": "tiny", "steps": 50, "seed": 4, "lr": 0.001, "val_fraction": 0.2})
    args = pretrain_command(spec_for_job(job))
    assert args[args.index("--data-store") + 1] == "s3://ckpt/jobs/9/data" and "--data" not in args
    assert args[args.index("--checkpoint-store") + 1] == "s3://ckpt/jobs/9"
    assert args[args.index("--seed") + 1] == "4" and args[args.index("--lr") + 1] == "0.001"
    assert args[args.index("--val-fraction") + 1] == "0.2"


def test_bad_specs_are_refused_with_a_reason():
    with pytest.raises(LaunchError, match="DNS-1123"):
        spec(name="Gait_Pretrain")
    with pytest.raises(LaunchError, match="not divisible"):
        spec(nodes=3, batch_size=8)


# --- against the emulator ---------------------------------------------------------------------------
def _pod(name, job, phase="Pending", containers=None, index=None, **status):
    meta = {"name": name, "namespace": NS, "labels": {"job-name": job, "gait/training-job": job},
            "creationTimestamp": f"2026-12-07T12:00:{len(name) % 60:02d}Z"}
    if index is not None:
        meta["annotations"] = {"batch.kubernetes.io/job-completion-index": str(index)}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "trainer", "image": "registry.example/gait:1.2.3"}]},
            "status": {"phase": phase, **({"containerStatuses": containers} if containers else {}), **status}}


def _cs(state: dict, last: dict | None = None) -> list[dict]:
    return [{"name": "trainer", "image": "registry.example/gait:1.2.3", "imageID": "", "ready": False,
             "restartCount": 0, "state": state, **({"lastState": last} if last else {})}]


def _job_condition(launcher, handle, ctype, reason, message="", **status):
    launcher.batch.patch_namespaced_job_status(handle["job"], NS, {"status": {
        "conditions": [{"type": ctype, "status": "True", "reason": reason, "message": message}], **status}})


@pytest.fixture
def launcher(k8s):
    return KubernetesLauncher(api_client=k8s.api_client(), namespace=NS)


def test_submit_watch_progress_logs_and_success(k8s, launcher, tmp_path):
    from gaitcore.model.store import CheckpointStore

    store = tmp_path / "store"
    handle = launcher.submit(spec(checkpoint_store=str(store)))
    job = launcher.batch.read_namespaced_job("gait-pretrain-7", NS)
    assert job.spec.template.spec.containers[0].args[-1] == "--no-progress"
    assert launcher.poll(handle).state == PENDING and launcher.poll(handle).reason == "waiting for a pod"

    launcher.core.create_namespaced_pod(NS, _pod("gait-pretrain-7-abcde", "gait-pretrain-7", "Running",
                                                 _cs({"running": {"startedAt": "2026-12-07T12:00:00Z"}})))
    launcher.core.create_namespaced_pod(NS, _pod("someone-else", "other-job", "Failed",
                                                 _cs({"terminated": {"exitCode": 137, "reason": "OOMKilled"}})))
    CheckpointStore.open(store).write(40, b"a checkpoint")  # what the pod's rank 0 writes
    st = launcher.poll(handle)
    assert st.state == RUNNING and st.reason == "" and st.pods == {"gait-pretrain-7-abcde": "Running"}
    assert st.progress["step"] == 40 and st.progress["steps"] == 200

    k8s.handler[f"get /api/v1/namespaces/{NS}/pods/gait-pretrain-7-abcde/log"] << b"pretrain step 40/200 loss 0.5\n"
    assert launcher.logs(handle) == "pretrain step 40/200 loss 0.5\n"

    _job_condition(launcher, handle, "Complete", "CompletionsReached", succeeded=1)
    seen = []
    st = launcher.watch(handle, timeout_s=30, on_status=seen.append)
    assert st.state == SUCCEEDED and seen[-1].state == SUCCEEDED
    assert sorted(launcher.cleanup(handle)) == ["job/gait-pretrain-7", "pod/gait-pretrain-7-abcde"]
    assert launcher.cleanup(handle) == []  # twice is harmless
    assert launcher.core.read_namespaced_pod("someone-else", NS)  # another job's pod is left alone


def test_oomkilled_pod_and_backoff_limit_give_a_readable_reason(launcher):
    handle = launcher.submit(spec(backoff_limit=1))
    for i, t in enumerate(("2026-12-07T12:01:00Z", "2026-12-07T12:02:00Z")):
        pod = _pod(f"gait-pretrain-7-x{i}", "gait-pretrain-7", "Failed",
                   _cs({"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": t}}))
        launcher.core.create_namespaced_pod(NS, pod)
    st = launcher.poll(handle)
    assert st.state == PENDING and "out of memory" in st.reason  # the Job controller may still retry
    _job_condition(launcher, handle, "Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit",
                   failed=2)
    st = launcher.watch(handle, timeout_s=10)
    assert st.state == FAILED
    assert st.reason.startswith("the pods failed 2 times, more than the backoff limit of 1")
    assert "out of memory: container trainer of pod gait-pretrain-7-x" in st.reason and "OOMKilled, exit code 137" \
        in st.reason


def test_image_pull_backoff_fails_at_once_with_the_image_named(launcher):
    handle = launcher.submit(spec(image="registry.example/gait:no-such-tag"))
    launcher.core.create_namespaced_pod(NS, _pod("gait-pretrain-7-p", "gait-pretrain-7", "Pending", _cs(
        {"waiting": {"reason": "ImagePullBackOff",
                     "message": 'Back-off pulling image "registry.example/gait:no-such-tag"'}})))
    st = launcher.watch(handle, timeout_s=10)
    assert st.state == FAILED
    assert "the image 'registry.example/gait:1.2.3' of pod gait-pretrain-7-p cannot be pulled (ImagePullBackOff" \
        in st.reason and "check the image name" in st.reason


@pytest.mark.parametrize("pod_status, condition, expected_state, expected", [
    ({"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."}, None, PENDING,
     "pod gait-pretrain-7-z was evicted by its node (The node was low on resource: memory.); the Job replaces it"),
    ({"phase": "Failed", "containerStatuses": _cs({"terminated": {"exitCode": 1, "reason": "Error",
                                                                   "message": "Traceback...\nRuntimeError: NaN loss"}})},
     None, PENDING, "container trainer of pod gait-pretrain-7-z exited with code 1 (Error): RuntimeError: NaN loss"),
    ({"phase": "Failed", "containerStatuses": _cs({"terminated": {"exitCode": 2, "reason": "Error",
                                                                   "message": "gaitfm pretrain: no session files"}})},
     None, FAILED, "refused its arguments or data (exit code 2): gaitfm pretrain: no session files"),
    ({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                          "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}]},
     None, PENDING, "cannot be scheduled: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu."),
    ({"phase": "Running"}, ("Failed", "DeadlineExceeded"), FAILED,
     "the Job ran longer than its deadline of 86400 s (activeDeadlineSeconds)"),
    ({"phase": "Running"}, ("Failed", "PodFailurePolicy"), FAILED, "retrying cannot fix"),
])
def test_pod_and_job_outcomes_map_to_reasons(launcher, pod_status, condition, expected_state, expected):
    handle = launcher.submit(spec())
    pod = _pod("gait-pretrain-7-z", "gait-pretrain-7")
    pod["status"] = pod_status
    launcher.core.create_namespaced_pod(NS, pod)
    if condition:
        _job_condition(launcher, handle, *condition)
    st = launcher.poll(handle)
    assert st.state == expected_state and expected in st.reason, st.reason


def test_cancel_deletes_with_foreground_propagation_and_cleanup_removes_the_rest(k8s, launcher):
    handle = launcher.submit(SPECS["four-nodes"])
    assert handle["service"] == "gait-pretrain-7-rdzv"
    assert launcher.core.read_namespaced_service("gait-pretrain-7-rdzv", NS).spec.cluster_ip == "None"
    for i in range(4):
        launcher.core.create_namespaced_pod(NS, _pod(f"gait-pretrain-7-{i}-abc", "gait-pretrain-7", "Running", index=i))
    k8s.handler[f"get /api/v1/namespaces/{NS}/pods/gait-pretrain-7-0-abc/log"] << b"rank 0 here\n"
    assert launcher.logs(handle) == "rank 0 here\n"  # pod 0 of an indexed job
    launcher.stop(handle)
    deletes = [r for r in k8s.requests() if str(r.method).endswith("DELETE")]
    assert [(r.url.path, r.data.get("propagationPolicy")) for r in deletes] == [
        (f"/apis/batch/v1/namespaces/{NS}/jobs/gait-pretrain-7", "Foreground"),
        (f"/api/v1/namespaces/{NS}/services/gait-pretrain-7-rdzv", "Background")]
    st = launcher.poll(handle)
    assert st.state == FAILED and "no longer exists" in st.reason
    # the emulator has no garbage collector: cleanup removes the pods a real cluster would collect
    assert sorted(launcher.cleanup(handle)) == [f"pod/gait-pretrain-7-{i}-abc" for i in range(4)]
    assert launcher.core.list_namespaced_pod(NS).items == []


def test_a_refused_job_leaves_nothing_behind(launcher):
    launcher.batch.create_namespaced_job(NS, render(spec())[0])  # a Job of that name exists already
    with pytest.raises(LaunchError, match="refused the Job gait-pretrain-7: 409"):
        launcher.submit(SPECS["four-nodes"])  # its Service was created first: it is removed again
    assert launcher.core.list_namespaced_service(NS).items == []


def test_the_registry_protocol_launch_alive_cancel(launcher, monkeypatch):
    monkeypatch.setenv("GAIT_TRAINING_IMAGE", "registry.example/gait:1.2.3")
    monkeypatch.setenv("GAIT_CHECKPOINT_STORE", "s3://ckpt/")
    assert isinstance(launcher, Launcher) and type(get_launcher("kubernetes")) is KubernetesLauncher
    job = SimpleNamespace(pk=12, kind="pretrain-encoder", attempts=2, artifacts={},
                          config={"config": "tiny", "steps": 300, "nproc_per_node": 2, "batch_size": 4})
    handle = launcher.launch(job)
    assert handle["job"] == "gait-pretrain-12-a2" and handle["checkpoint_store"] == "s3://ckpt/jobs/12"
    created = launcher.batch.read_namespaced_job("gait-pretrain-12-a2", NS)
    args = created.spec.template.spec.containers[0].args
    assert args[args.index("--steps") + 1] == "300" and args[args.index("--nproc-per-node") + 1] == "2"
    job.artifacts["launch"] = handle
    assert launcher.alive(job) is True
    launcher.cancel(job)
    assert launcher.alive(job) is False
    with pytest.raises(LaunchError, match="runs pretrain-encoder jobs, not 'finetune-heads'"):
        launcher.launch(SimpleNamespace(pk=1, kind="finetune-heads", config={}, artifacts={}))


def test_watch_wakes_up_when_a_pod_changes(launcher):
    import threading
    import time

    handle = launcher.submit(spec())
    launcher.core.create_namespaced_pod(NS, _pod("gait-pretrain-7-w", "gait-pretrain-7", "Running",
                                                 _cs({"running": {"startedAt": "2026-12-07T12:00:00Z"}})))

    def kubelet_reports_failure():
        time.sleep(1.5)
        launcher.core.patch_namespaced_pod_status("gait-pretrain-7-w", NS, {"status": {
            "phase": "Failed", "containerStatuses": _cs({"terminated": {"exitCode": 2, "reason": "Error",
                                                                         "message": "gaitfm pretrain: bad --config"}})}})

    t = threading.Thread(target=kubelet_reports_failure)
    t.start()
    seen = []
    t0 = time.monotonic()
    st = launcher.watch(handle, timeout_s=60, on_status=seen.append, recheck_s=30)
    woke_after = time.monotonic() - t0
    t.join()
    assert [s.state for s in seen] == [RUNNING, FAILED] and st.state == FAILED
    assert "refused its arguments or data (exit code 2): gaitfm pretrain: bad --config" in st.reason
    assert 1.5 <= woke_after < 10  # the pod's change woke it, not the 30 s recheck
