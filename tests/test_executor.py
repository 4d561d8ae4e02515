"""Where the study's tasks run: a local cluster sized to the machine, one worker per GPU, or a Slurm cluster."""
import os

import pytest

from valstudy.errors import ValstudyError
from valstudy.study.executor import SlurmOptions, close, gpu_cluster, open_client

pytestmark = pytest.mark.xdist_group("cluster")


def _workers(client) -> dict:
    return client.scheduler_info()["workers"]


def test_the_local_cluster_has_one_single_threaded_worker_per_core_unless_told(monkeypatch):
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    monkeypatch.setattr("valstudy.study.executor.local_gpus", lambda: 0)
    client, cluster, where = open_client()
    try:
        assert len(_workers(client)) == os.cpu_count() and where.startswith(f"local cluster: {os.cpu_count()}")
        assert {w["nthreads"] for w in _workers(client).values()} == {1}
    finally:
        close(client, cluster)
    client, cluster, _ = open_client(workers=1)
    try:
        assert len(_workers(client)) == 1
    finally:
        close(client, cluster)
    with pytest.raises(ValstudyError, match="give one of them"):
        open_client(scheduler="tcp://127.0.0.1:1", cluster="slurm")
    with pytest.raises(ValstudyError, match="--cluster pbs: unknown"):
        open_client(cluster="pbs")


def test_a_gpu_machine_gets_one_worker_per_gpu_each_seeing_its_own():
    from distributed import Client

    cluster = gpu_cluster(2)
    try:
        with Client(cluster) as client:
            client.wait_for_workers(2, timeout=60)
            seen = client.run(lambda: os.environ.get("CUDA_VISIBLE_DEVICES"))
            assert sorted(seen.values()) == ["0", "1"]
            info = _workers(client).values()
            assert sorted(w["name"] for w in info) == ["gpu0", "gpu1"]
            assert all(w["resources"] == {"GPU": 1} and w["nthreads"] == 1 for w in info)
    finally:
        cluster.close()


def test_the_slurm_cluster_asks_for_one_core_per_worker_and_the_gpus_given():
    pytest.importorskip("dask_jobqueue")
    from dask_jobqueue import SLURMCluster

    opts = SlurmOptions(jobs=3, queue="gpu", account="lab", walltime="02:00:00", memory="16GB", gpus=1,
                        extra=["--constraint=a100"])
    cluster = SLURMCluster(**opts.cluster_kwargs())  # nothing is submitted until it is scaled
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for line in ("#SBATCH -p gpu", "#SBATCH -A lab", "#SBATCH -t 02:00:00", "#SBATCH --gres=gpu:1",
                 "#SBATCH --constraint=a100", "--nthreads 1", "--resources GPU=1"):
        assert line in script, line
    assert "#SBATCH --cpus-per-task=1" in script and "--mem=15G" in script
