"""MultiWorkerMirroredStrategy across two local worker processes."""

import json
import os
import socket
import subprocess
import sys

import pytest

HERE = os.path.dirname(__file__)


def free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_workers_train_in_lockstep(tmp_path):
    workers = [f"localhost:{free_port()}", f"localhost:{free_port()}"]
    procs = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
        procs.append(subprocess.Popen(
            # each worker is given its own run folder: the chief's must fill, the other's
            # stay unwritten
            [sys.executable, os.path.join(HERE, "multiworker_job.py"),
             str(tmp_path / f"run{index}")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err[-3000:]
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            proc.kill()
    assert [r["replicas"] for r in results] == [2, 2]
    assert [r["iterations"] for r in results] == [3, 3]
    assert results[0]["checksum"] == pytest.approx(results[1]["checksum"], rel=1e-6)
    # only the chief writes into the run folder it was given
    assert (tmp_path / "run0" / "model.keras").exists()
    assert not (tmp_path / "run1").exists() or not os.listdir(tmp_path / "run1")
