"""A notebook's profile as it runs: ``VALSTUDY_PROFILE`` overrides the stored one, and the smoke profile says so.

A notebook opened and run as it is works on the study's own profile (``synthetic``) and reuses the runs of
``make study``; ``make test`` sets ``VALSTUDY_PROFILE=smoke`` so the stored notebooks run in seconds, as a wiring
check. Folders left empty stay empty here: :func:`valstudy.study.prepare` resolves them to the profile's own
(:func:`valstudy.study.profile_paths`), so paths follow the profile and nothing of another profile is touched.
"""
from __future__ import annotations

import os

from ..config import PROFILES
from ..errors import ValstudyError

ENV = "VALSTUDY_PROFILE"
WIRING_CHECK = ("WIRING CHECK (smoke profile): tiny data and 12-step runs test that every cell works; the numbers "
                "below say nothing about VAL. Set PROFILE = \"synthetic\" for the study's results.")


def notebook_parameters(profile: str, data_root: str = "", runs_root: str = "", figures_dir: str = "",
                        environ: dict | None = None, verbose: bool = True) -> tuple[str, str, str, str]:
    """(profile, data root, runs root, figures folder) a notebook runs with.

    ``VALSTUDY_PROFILE`` in the environment replaces ``profile``; the folders are passed through (empty: the
    profile's own, resolved by ``prepare``). Prints one line: the profile, or a wiring-check banner for smoke.
    """
    environ = os.environ if environ is None else environ
    profile = environ.get(ENV) or profile
    if profile not in PROFILES:
        raise ValstudyError(f"unknown profile {profile!r} (PROFILE or ${ENV}); choose from {', '.join(PROFILES)}")
    if verbose:
        print(WIRING_CHECK if profile == "smoke" else
              f"profile {profile!r}" + (f" (from ${ENV})" if environ.get(ENV) else "") +
              "; folders left empty are the profile's own")
    return profile, data_root, runs_root, figures_dir
