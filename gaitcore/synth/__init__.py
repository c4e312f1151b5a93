"""Synthetic cohort: biomechanically plausible Azure-Kinect-like sessions with known phenotype truth.

Data layer only (numpy/scipy). Modules: ``anthropometry`` (body from height/sex/BMI), ``curves``
(normative joint-angle curves), ``skeleton`` (vectorised forward kinematics to the 32 Azure joints),
``gait`` (walking, treadmill, walking in place), ``posture`` (sit-to-stand, Romberg), ``sensor``
(camera pose, noise, occlusion, swaps, timing), ``phenotypes`` (covariates, latent factors, 75
phenotypes over 18 systems, truth), ``subject`` (factors -> movement parameters), ``cohort``
(sessions and the streaming cohort writer), ``realism`` (statistics shared with ``gaitfm synth-report``).
See docs/synthetic-cohort.md.
"""

from .cohort import PROTOCOL_TASKS, build_session, generate_cohort

__all__ = ["PROTOCOL_TASKS", "build_session", "generate_cohort"]
