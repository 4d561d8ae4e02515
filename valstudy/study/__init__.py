"""The study driver (the top layer: nothing in valstudy below it imports it).

``python -m valstudy study STAGE`` (``make study``, ``make figures``, ``make verify``) brings every run of the plan
to a record (training, evaluating and measuring what is missing, as tasks on a Dask cluster) and executes every
notebook from the records. Notebooks call :func:`prepare`, so each one also runs on its own.

- :mod:`~valstudy.study.plan`: each profile's folders, the runs of the plan, run folders (never replaced).
- :mod:`~valstudy.study.records`: the committed record of each finished run, and the few committed weights.
- :mod:`~valstudy.study.tasks`: what a worker does (data, one run to its record, one notebook).
- :mod:`~valstudy.study.executor`: the Dask cluster (local, a running scheduler, Slurm).
- :mod:`~valstudy.study.runner`: the task graph, progress and the report of failures.
- :mod:`~valstudy.study.notebooks`: :func:`prepare` and :class:`Study` for notebooks; papermill execution.
- :mod:`~valstudy.study.verify`: retrain a sample of recorded runs and compare.
- :mod:`~valstudy.study.command`: the command line.
"""
from ..config import ABLATIONS, DATASETS, METHODS, PROFILES, Profile
from .notebooks import NOTEBOOKS, PER_DATASET, Study, execute_notebook, prepare
from .plan import REPO, RunSpec, StudyPaths, absolute, data_root, plan, profile_paths, run_config, run_folder
from .runner import ensure_data, ensure_runs

__all__ = ["ABLATIONS", "DATASETS", "METHODS", "PROFILES", "Profile", "NOTEBOOKS", "PER_DATASET", "Study",
           "execute_notebook", "prepare", "REPO", "RunSpec", "StudyPaths", "absolute", "data_root", "plan",
           "profile_paths", "run_config", "run_folder", "ensure_data", "ensure_runs"]
