"""Where the study's tasks run: a Dask cluster, local or remote.

- No address: a ``LocalCluster`` sized to the machine: one single-threaded worker per core on a CPU (``workers``
  overrides it: ``JOBS`` in the Makefile), one worker per GPU on a GPU machine (each sees one GPU through
  ``CUDA_VISIBLE_DEVICES`` and holds the resource ``GPU=1``).
- ``scheduler="tcp://HOST:PORT"`` (or ``$DASK_SCHEDULER_ADDRESS``): a running cluster (``dask scheduler`` and
  ``dask worker --nthreads 1`` processes started by hand, or by any deployment tool).
- ``cluster="slurm"``: a cluster started through dask-jobqueue's ``SLURMCluster``, one single-core job per worker
  (options in :class:`SlurmOptions`; ``pip install dask-jobqueue``).

Workers must see the repository's data, runs and records folders (a shared filesystem); a run on a worker that cannot
fails with a message saying so (``valstudy.study.tasks.check_visible``). The library below the study never imports
Dask: only this module and the study's driver know a scheduler exists.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from ..errors import ValstudyError

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


@dataclass
class SlurmOptions:
    """``--cluster slurm``: each worker is one Slurm job of one core (and ``gpus`` GPUs) running one run at a time."""

    jobs: int = 4                       # workers (Slurm jobs) to start
    queue: str | None = None            # partition (sbatch -p)
    account: str | None = None          # sbatch -A
    walltime: str = "04:00:00"          # per job; a run cut by it resumes from its checkpoint on another job
    memory: str = "8GB"                 # per job
    gpus: int = 0                       # GPUs per job (--gres=gpu:N); GPU jobs also hold the Dask resource GPU=N
    extra: list[str] = field(default_factory=list)  # further #SBATCH lines, e.g. "--constraint=v100"

    def cluster_kwargs(self) -> dict:
        """The ``dask_jobqueue.SLURMCluster`` arguments these options stand for."""
        extra = list(self.extra) + ([f"--gres=gpu:{self.gpus}"] if self.gpus else [])
        kw = {"cores": 1, "processes": 1, "memory": self.memory, "walltime": self.walltime,
              "job_extra_directives": extra,
              "worker_extra_args": ["--resources", f"GPU={self.gpus}"] if self.gpus else []}
        if self.queue:
            kw["queue"] = self.queue
        if self.account:
            kw["account"] = self.account
        return kw


def local_gpus() -> int:
    """CUDA devices this machine shows (0 without torch's CUDA)."""
    try:
        import torch
        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except ImportError:
        return 0


def _dashboard() -> str | None:
    """':0' (any free port) when bokeh is installed, so the cluster serves its dashboard; otherwise none."""
    try:
        import bokeh  # noqa: F401
        return ":0"
    except ImportError:
        return None


def gpu_cluster(n: int):
    """A local cluster of ``n`` single-threaded workers, worker i seeing only GPU i and holding ``GPU=1``."""
    from distributed import Nanny, Scheduler, SpecCluster

    workers = {i: {"cls": Nanny, "options": {"nthreads": 1, "resources": {"GPU": 1},
                                             "env": {"CUDA_VISIBLE_DEVICES": str(i)}, "name": f"gpu{i}"}}
               for i in range(n)}
    return SpecCluster(scheduler={"cls": Scheduler, "options": {"dashboard_address": _dashboard()}},
                       workers=workers, silence_logs=logging.CRITICAL)


def open_client(scheduler: str | None = None, cluster: str | None = None, workers: int | None = None,
                slurm: SlurmOptions | None = None):
    """(client, cluster or None, one line saying where tasks run). Close both when done (:func:`close`)."""
    from distributed import Client, LocalCluster

    scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
    if scheduler and cluster:
        raise ValstudyError(f"--scheduler {scheduler} and --cluster {cluster}: give one of them")
    if scheduler:
        client = Client(scheduler, timeout="30s")
        n = len(client.scheduler_info().get("workers", {}))
        return client, None, f"Dask scheduler {scheduler} ({n} worker{'s' if n != 1 else ''} now)"
    if cluster == "slurm":
        try:
            from dask_jobqueue import SLURMCluster
        except ImportError:
            raise ValstudyError("--cluster slurm needs dask-jobqueue: pip install dask-jobqueue") from None
        opts = slurm or SlurmOptions()
        c = SLURMCluster(**opts.cluster_kwargs())
        c.scale(jobs=opts.jobs)
        return Client(c), c, f"Slurm cluster: {opts.jobs} job(s) of 1 core" + (f" and {opts.gpus} GPU(s)"
                                                                               if opts.gpus else "")
    if cluster not in (None, "local"):
        raise ValstudyError(f"--cluster {cluster}: unknown; choose local or slurm (or give --scheduler)")
    gpus = local_gpus()
    if gpus and workers is None:
        c = gpu_cluster(gpus)
        return Client(c), c, f"local cluster: {gpus} worker(s), one per GPU"
    n = workers or os.cpu_count() or 1
    if n < 1:
        raise ValstudyError(f"--jobs {n}: at least one worker")
    c = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=_dashboard(),
                     silence_logs=logging.CRITICAL)
    return Client(c), c, f"local cluster: {n} single-threaded worker(s)"


def close(client, cluster) -> None:
    """Close the client, then the cluster this study started (a cluster given by address is left running)."""
    client.close()
    if cluster is not None:
        cluster.close()


def dashboard(client) -> str | None:
    """The cluster's dashboard address, when it serves one."""
    try:
        link = client.dashboard_link
    except Exception:  # no dashboard (bokeh missing) or a scheduler that does not say
        return None
    return link or None
