"""One optimisation step with 2 gloo processes under torchrun equals the single-process step, also when each
process accumulates its share in micro-batches (only the last chunk synchronises)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")

WORKER = textwrap.dedent('''
    import os, sys, torch, torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    sys.path.insert(0, os.environ["REPO"])
    from gaitcore.model.gaitmae import CONFIGS, GaitMAE
    from gaitcore.model.masking import MaskingConfig, make_masks, Masks
    from gaitcore.model.train import make_optimizer, train_step

    def batch():
        g = torch.Generator().manual_seed(5)
        x = torch.randn(4, 32, 26, 4, generator=g)
        cfg = MaskingConfig(jitter_prob=0.0)
        m = make_masks(torch.ones(4, 32, 26, dtype=torch.bool), cfg, torch.Generator().manual_seed(6))
        return x, m, cfg

    dist.init_process_group("gloo")
    torch.set_num_threads(1)
    r, w = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    model = GaitMAE(CONFIGS["tiny"])
    ddp = DDP(model)
    opt = make_optimizer(model, 1e-3, 0.01)
    x, m, cfg = batch()
    n = x.shape[0] // w
    sl = slice(r * n, (r + 1) * n)
    part = Masks(m.hidden[sl], m.masked[sl], m.loss_weight[sl], m.jittered[sl])
    train_step(ddp, opt, x[sl], part, cfg, micro_batch=int(os.environ["MICRO"]))
    if r == 0:
        torch.save(model.state_dict(), sys.argv[1])
    dist.barrier()
    open(sys.argv[1] + f".done{r}", "w").close()  # this rank's work is complete
    dist.destroy_process_group()
''')

# A gloo worker thread can still be joinable when a rank's process ends; the C++ runtime then aborts with
# this message *after* the rank finished its work (seen once in a clean-clone CI run on 2026-11-24: rank 1
# exited with -6 after the barrier; 9 local reruns passed). The numerical check below is what this test is
# about, so that teardown abort is tolerated only when both ranks had finished.
TEARDOWN_ABORT = "terminate called without an active exception"


@pytest.mark.parametrize("micro", [0, 1])
def test_two_gloo_processes_match_single_process(tmp_path, micro):
    from gaitcore.model.gaitmae import CONFIGS, GaitMAE
    from gaitcore.model.masking import MaskingConfig, make_masks
    from gaitcore.model.train import make_optimizer, train_step

    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out = tmp_path / "ddp.pt"
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "REPO": repo, "OMP_NUM_THREADS": "1", "MICRO": str(micro)}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script), str(out)], env=env, capture_output=True, text=True, timeout=120)
    finished = all(os.path.exists(f"{out}.done{r}") for r in (0, 1))
    assert proc.returncode == 0 or (finished and TEARDOWN_ABORT in proc.stderr), proc.stderr[-3000:]
    assert finished, proc.stderr[-3000:]

    torch.manual_seed(0)
    model = GaitMAE(CONFIGS["tiny"])
    opt = make_optimizer(model, 1e-3, 0.01)
    g = torch.Generator().manual_seed(5)
    x = torch.randn(4, 32, 26, 4, generator=g)
    cfg = MaskingConfig(jitter_prob=0.0)
    m = make_masks(torch.ones(4, 32, 26, dtype=torch.bool), cfg, torch.Generator().manual_seed(6))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train_step(model, opt, x, m, cfg)
    ddp = torch.load(out, weights_only=True)
    changed = 0
    for k, v in model.state_dict().items():
        assert torch.allclose(v, ddp[k], atol=1e-6, rtol=1e-5), k
        changed += int(not torch.equal(v, before[k]))
    assert changed > 10
