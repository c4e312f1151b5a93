"""From a subject's covariates and latent factors to their movement parameters (the gait truth).

Published relations used (cited in docs/synthetic-cohort.md):

* Comfortable overground speed by age decade and sex: Bohannon & Andrews 2011 (Physiotherapy
  97:182-189) meta-analysis, men 1.36/1.43/1.43/1.43/1.34/1.26 m/s and women 1.34/1.34/1.39/1.31/1.24/
  1.13 m/s for the 20s..70s; taller people walk faster (+0.5 m/s per m of height above the sex mean),
  higher BMI slower.
* Cadence: ~108 steps/min (men) and ~115 (women) at ~1.35 m/s, little change with age while step
  length falls (Oberg, Karsznia & Oberg 1993, J Rehabil Res Dev 30:210-223; Hollman et al. 2011, Gait
  Posture 34:111-118); cadence scales with speed^0.45 and with (1.70 m / height)^0.5; step length =
  speed / cadence (~0.41-0.45 x height).
* Stance ~60-62 % of the cycle at comfortable speed, longer when slower (double support 20-30 %,
  Perry & Burnfield 2010); treadmill self-selected speed ~0.85 x overground.
* Stride-time CV ~1.5-2.5 % in healthy adults, higher with age, frailty (Hausdorff 2005).
* 30-s chair stand: Rikli & Jones 1999 norms; Romberg sway: Prieto et al. 1996, Era et al. 2006.
* Speed-independent ageing of posture and joint kinematics (generator 1.1): see ``ageing_posture``.
"""

from __future__ import annotations

import numpy as np

from .gait import GaitParams
from .phenotypes import HEIGHT_MEAN, Subject

_AGES = np.array([25, 35, 45, 55, 65, 75], dtype=float)
_SPEED = {True: np.array([1.36, 1.43, 1.43, 1.43, 1.34, 1.26]),
          False: np.array([1.34, 1.34, 1.39, 1.31, 1.24, 1.13])}


def comfortable_speed_norm(age: float, male: bool) -> float:
    """Bohannon & Andrews (2011) comfortable gait speed (m/s), linearly interpolated between decades."""
    return float(np.interp(age, _AGES, _SPEED[bool(male)]))


def movement_params(s: Subject, rng: np.random.Generator) -> dict:
    """All task parameters of one subject at one visit; ``rng`` draws the individual residuals."""
    lat = s.latents
    fr, sa, mo, sl, cm = (lat[k] for k in ("frailty", "sarcopenia", "mood", "sleep_debt", "cardiometabolic"))
    bmi_z = (s.bmi - 26.0) / 4.5
    age_z = (s.age - 50.0) / 12.0
    # the speed norms already contain the average ageing of the population: speed and step length use
    # the latent factors' deviations from their age/BMI expectation (see phenotypes.draw_subject)
    fr_dev = fr - 0.4 * age_z - 0.2 * bmi_z
    sa_dev = sa - 0.35 * age_z
    cm_dev = cm - 0.35 * bmi_z - 0.15 * age_z
    e = rng.standard_normal(12)
    sway_noise = rng.standard_normal()
    ag = ageing_posture(s, rng)  # drawn after all of generator 1.0's draws: 1.0's numbers are unchanged
    speed = (comfortable_speed_norm(s.age, s.male) + 0.5 * (s.height - HEIGHT_MEAN[s.male])
             - 0.01 * (s.bmi - 26.0) - 0.06 * fr_dev - 0.04 * mo - 0.03 * cm_dev + 0.08 * e[0])
    # sarcopenia shortens steps at unchanged cadence: fold its effect into speed via step length below
    speed = float(np.clip(speed, 0.6, 1.9))
    cad = (108.0 if s.male else 115.0) * (speed / 1.35) ** 0.45 * (1.70 / s.height) ** 0.5 + 3.5 * e[1]
    step = speed * 60.0 / cad - 0.025 * sa_dev
    step = float(np.clip(step, 0.35, 0.95))
    speed = step * cad / 60.0
    stance = float(np.clip(0.61 + 0.04 * (1.35 - speed) + 0.008 * fr + 0.004 * cm + 0.006 * e[2], 0.57, 0.68))
    common = dict(
        step_width=float(np.clip(0.09 + 0.01 * fr + 0.006 * bmi_z + 0.02 * e[3], 0.04, 0.2)),
        arm_swing=float(np.clip(17.0 - 3.0 * mo - 0.05 * (s.age - 50) + 3.0 * e[4], 4.0, 32.0)),
        trunk_sway=float(np.clip(1.5 + 0.5 * sl + 0.3 * fr + 0.3 * e[5], 0.3, 5.0)),
        trunk_lean=float(np.clip(3.0 + 0.04 * (s.age - 50) + 1.5 * mo + 1.0 * e[6], -2.0, 12.0)),
        neck_flex=float(5.0 + 2.0 * mo + 2.0 * e[7]),
        stride_cv=float(np.clip(0.018 + 0.0002 * max(0.0, s.age - 55) + 0.004 * fr + 0.003 * sl + 0.003 * e[8],
                                0.008, 0.08)),
        asymmetry=float((0.02 + 0.015 * max(fr, 0.0)) * e[9]),
        knee_gain=float(np.clip(1.0 - 0.05 * sa - 0.002 * (s.age - 50), 0.7, 1.15)),
        foot_prog=float(6.0 + 2.0 * e[10]),
        **ag,
    )
    over = GaitParams(cadence=cad, step_length=step, stance=stance, **common)
    # self-selected treadmill: ~0.85 x overground speed, cadence scaled as speed^0.45
    v_tm = 0.85 * speed
    cad_tm = cad * 0.85 ** 0.45
    tm_ss = GaitParams(cadence=cad_tm, step_length=v_tm * 60 / cad_tm,
                       stance=float(np.clip(stance + 0.04 * (speed - v_tm), 0.57, 0.7)), **common)
    v3 = 3.0 / 3.6
    cad3 = cad * (v3 / speed) ** 0.45
    tm3 = GaitParams(cadence=cad3, step_length=v3 * 60 / cad3,
                     stance=float(np.clip(stance + 0.04 * (speed - v3), 0.57, 0.7)), **common)
    wip = GaitParams(cadence=float(0.9 * cad), step_length=0.0, stance=0.55, **common)
    reps = float(np.clip(17.0 - 0.10 * max(0.0, s.age - 40) - 0.15 * (s.bmi - 26) - 1.5 * fr - 1.2 * sa
                         + 1.2 * e[11], 5.0, 26.0))
    sway = float(5.0 * np.exp(0.012 * (s.age - 50) + 0.25 * fr + 0.2 * sl + 0.05 * bmi_z + 0.2 * sway_noise))
    return {"overground_walk": over, "treadmill_self_selected": tm_ss, "treadmill_3kmh": tm3,
            "walk_in_place": wip, "sts_reps_per_30s": reps, "romberg_sway_ap_mm": sway,
            "thoracic_flex": ag["thoracic_flex"], "pelvis_tilt": ag["pelvis_tilt"]}


def ageing_posture(s: Subject, rng: np.random.Generator) -> dict[str, float]:
    """Speed-independent ageing of posture and joint kinematics (generator 1.1), deg; 4 draws.

    * Thoracic kyphosis (Cobb angle) rises from ~25-30 deg in young adults to ~45-50 deg in older
      women, less in men, between-person SD ~8-10 deg (Fon, Pitt & Thies 1980; Roghani et al. 2017):
      excess 0.45 (women) / 0.35 (men) deg/yr after 35 + 9 N(0,1); the upper thorax flexes by half.
    * Healthy elderly walk with less peak hip extension, more anterior pelvic tilt and less push-off
      plantarflexion than young adults, also at matched speed (Kerrigan et al. 1998; Judge et al. 1996;
      review Boyer et al. 2017): a few degrees between the 20s and the 70s."""
    z = rng.standard_normal(4)
    older = max(0.0, s.age - 25.0)
    cobb_excess = (0.35 if s.male else 0.45) * max(0.0, s.age - 35.0) + 9.0 * z[0]
    return {
        "thoracic_flex": float(np.clip(0.5 * cobb_excess, -10.0, 25.0)),
        "hip_ext_loss": float(np.clip(0.07 * older + 2.0 * z[1], -6.0, 12.0)),
        "pelvis_tilt": float(np.clip(10.0 + 0.04 * older + 3.0 * z[2], 0.0, 22.0)),
        "pushoff_loss": float(np.clip(0.08 * older + 2.5 * z[3], -6.0, 12.0)),
    }
