"""DDP (gloo, 2 CPU processes) against one process with the same global batch, and kill-and-resume exactness."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).parent))
import _helpers  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _state(task):
    return {f"{name}.{k}": v for name, m in task.modules.items() for k, v in m.state_dict().items()}


# Children come from a fork server that imported torch and the helpers once (fresh interpreters per child
# re-import torch and textgan: ~25 s on the shared 2-core machine). Not plain fork: GNU OpenMP, which the
# CPU wheels of torch use, is not fork-safe, and a child forked from a pytest process whose earlier tests ran
# multi-threaded convolutions can hang in its first parallel region.
if "forkserver" in mp.get_all_start_methods():
    _START = "forkserver"
    mp.get_context("forkserver").set_forkserver_preload(["torch", "_helpers"])
else:
    _START = "spawn"


def _run_children(target, args_per_child, timeout=120):
    """Start one process per args tuple, wait (bounded), return their exit codes."""
    ctx = mp.get_context(_START)
    procs = [ctx.Process(target=target, args=a) for a in args_per_child]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout)
    codes = [p.exitcode for p in procs]
    for p in procs:
        if p.is_alive():
            p.kill()
    assert None not in codes, f"a child process did not finish within {timeout} s"
    return codes


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built")
def test_two_gloo_processes_match_one_process(tmp_path):
    result = tmp_path / "params"
    port = _free_port()
    codes = _run_children(_helpers._ddp_worker, [(r, 2, port, str(tmp_path / "ddp"), str(result)) for r in range(2)])
    assert codes == [0, 0], codes
    rank0, rank1 = torch.load(f"{result}.0"), torch.load(f"{result}.1")
    single_trainer, single = _helpers.text_encoder_run(tmp_path / "single", resume=False)
    single_trainer.fit()
    ref = _state(single)
    assert rank0.keys() == ref.keys()
    moved = False
    for k in ref:
        assert torch.equal(rank0[k], rank1[k]), f"{k} differs between the ranks"
        torch.testing.assert_close(rank0[k], ref[k], rtol=1e-4, atol=1e-5, msg=f"{k}: DDP != one process")
    init = _state(_helpers.ShapesTextEncoderTask(embedding_dim=8, hidden_dim=8, dropout=0.0, lr=1e-2, seed=0))
    moved = any(not torch.equal(init[k], ref[k]) for k in ref)
    assert moved, "training did not change the parameters"
    # the metrics log of rank 0 has the steps
    assert (tmp_path / "ddp" / "metrics.csv").read_text().count("\n") == 4


def test_killed_and_resumed_run_ends_like_an_uninterrupted_one(tmp_path):
    full, full_task = _helpers.dfgan_run(tmp_path / "full")
    full.fit()
    if _START == "fork":
        codes = _run_children(_helpers._killed_run, [(str(tmp_path / "cut"), 5, torch.get_num_threads())])
        assert codes == [-9], codes  # killed after step 5; the last checkpoint is step 3 (mid-epoch)
    else:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent)] + sys.path))
        proc = subprocess.run([sys.executable, str(Path(__file__).parent / "_helpers.py"), str(tmp_path / "cut"), "5",
                               str(torch.get_num_threads())], env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == -9, proc.stderr
    state = torch.load(tmp_path / "cut" / "checkpoints" / "last.pt", weights_only=False)
    assert (state["step"], state["epoch"], state["batch_in_epoch"]) == (3, 0, 3)
    resumed, resumed_task = _helpers.dfgan_run(tmp_path / "cut")
    assert resumed.step == 3
    resumed.fit()
    a, b = _state(full_task), _state(resumed_task)
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resuming"
    for k, v in full.ema.state_dict().items():
        assert torch.equal(v, resumed.ema.state_dict()[k]), f"EMA {k} differs after resuming"
    for name in full.optimizers:
        sa, sb = full.optimizers[name].state_dict()["state"], resumed.optimizers[name].state_dict()["state"]
        assert all(torch.equal(sa[i]["exp_avg"], sb[i]["exp_avg"]) for i in sa)
