"""The study driver (the top layer: nothing in valstudy below it imports it).

``python -m valstudy study {data,train,notebooks,all}`` (``make study``) generates the data, trains every run of the
plan (each in its own process, from a saved configuration file), and executes every notebook. Notebooks call
:func:`prepare`, so each one also runs on its own.

- :mod:`~valstudy.study.plan`: each profile's folders, the runs of the plan, run folders (never replaced).
- :mod:`~valstudy.study.runner`: data generation, training and re-evaluation of the plan's runs.
- :mod:`~valstudy.study.notebooks`: :func:`prepare` for notebooks, papermill execution.
- :mod:`~valstudy.study.command`: the command line.
"""
from ..config import ABLATIONS, DATASETS, METHODS, PROFILES, Profile
from .notebooks import NOTEBOOKS, PER_DATASET, Study, execute_notebooks, prepare
from .plan import REPO, RunSpec, absolute, data_root, plan, profile_paths, run_config, run_folder
from .runner import ensure_data, ensure_runs, train_run

__all__ = ["ABLATIONS", "DATASETS", "METHODS", "PROFILES", "Profile", "NOTEBOOKS", "PER_DATASET", "Study",
           "execute_notebooks", "prepare", "REPO", "RunSpec", "absolute", "data_root", "plan", "profile_paths",
           "run_config", "run_folder", "ensure_data", "ensure_runs", "train_run"]
