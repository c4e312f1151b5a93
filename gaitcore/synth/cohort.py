"""Sessions and cohorts: one session file per subject and visit, all tasks in one session.

Determinism: every random draw comes from a generator seeded by ``SeedSequence([seed, subject,
stream, visit])``, so a subject's files do not depend on which worker makes them or in which order;
same seed -> byte-identical output. Streaming: each worker writes its session file and returns only a
phenotype row; the parent appends rows to the CSVs in subject order. Memory does not grow with N.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from ..schemas import TASKS
from ..sessionfile import SUFFIX, Session, TaskSegment, write_session
from . import gait, posture
from .anthropometry import make_body
from .phenotypes import (
    COVARIATES,
    LATENTS,
    PHENOTYPES,
    Subject,
    age_subject,
    draw_subject,
    phenotype_values,
    truth,
)
from .sensor import CameraPose, frame_times, observe
from .subject import movement_params

GENERATOR_VERSION = "1.1"  # 1.1: speed-independent ageing of posture and joint kinematics
PROTOCOL_TASKS = ("treadmill_3kmh", "treadmill_self_selected", "walk_in_place", "sit_to_stand", "romberg_eyes_closed")
DURATION_S = {"treadmill_3kmh": 180.0, "treadmill_self_selected": 60.0, "walk_in_place": 60.0,
              "sit_to_stand": 30.0, "romberg_eyes_closed": 30.0}
OVERGROUND_PASS_MM = 4500.0  # one pass of the walkway towards the camera
TREADMILL_DECK_MM = 180.0  # the belt surface above the floor
_STREAM = {"subject": 0, "visit_years": 1, "phenotypes": 2, "movement": 3, "session": 4, "body": 5, "ageing": 6}


def rng_for(seed: int, subject: int, stream: str, visit: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(subject), _STREAM[stream], int(visit)]))


def subject_at_visit(seed: int, index: int, visit: int, longitudinal_share: float = 0.5) -> tuple[Subject, float]:
    """The subject ``index`` at ``visit`` (0 = baseline) and the years since baseline."""
    s = draw_subject(index, rng_for(seed, index, "subject"), longitudinal_share)
    years = 0.0
    base = s
    for v in range(1, visit + 1):
        dt = float(rng_for(seed, index, "visit_years", v).uniform(1.5, 2.5))
        years += dt
        s = age_subject(base, years, rng_for(seed, index, "ageing", v), s.intervention)
    return s, years


def _task_duration(task: str, scale: float) -> float:
    """Seconds of a (non-overground) task at duration scale ``scale`` (at least 3 s)."""
    return max(3.0, DURATION_S[task] * scale)


def build_session(seed: int, index: int, visit: int = 0, tasks: Iterable[str] = PROTOCOL_TASKS,
                  duration_scale: float = 1.0, longitudinal_share: float = 0.5) -> tuple[Session, dict]:
    """One synthetic session (all ``tasks``) and the subject's phenotype row."""
    subj, years = subject_at_visit(seed, index, visit, longitudinal_share)
    body = make_body(subj.height, subj.male, subj.bmi, rng_for(seed, index, "body"))
    mp = movement_params(subj, rng_for(seed, index, "movement", visit))
    rng = rng_for(seed, index, "session", visit)
    camera = CameraPose.draw(rng)
    positions, confidence, stamps, segments, task_truth, sensor_sum = [], [], [], [], {}, {}
    t_cursor = int(rng.integers(0, 10_000_000))
    n_total = 0
    def add(task: str, ts: np.ndarray, world: np.ndarray, tr: dict, seated=None, walking=None) -> None:
        nonlocal n_total, t_cursor
        pos, conf, summ = observe(world, camera, rng, seated=seated, walking=walking)
        positions.append(pos)
        confidence.append(conf)
        stamps.append(ts)
        segments.append(TaskSegment(task, n_total, n_total + len(ts)))
        n_total += len(ts)
        task_truth.setdefault(task, tr)
        sensor_sum.setdefault(task, summ)
        t_cursor = int(ts[-1] + rng.uniform(3e6, 8e6))

    for task in tasks:
        gp = mp.get(task)
        if task == "overground_walk":
            # passes along a walkway towards the camera, from ~D+3.5 m to ~D-1 m; between passes the
            # walker goes back out of view (a timestamp gap). One task segment per pass.
            passes = max(1, int(round(3 * duration_scale)))
            for _ in range(passes):
                dur = OVERGROUND_PASS_MM / 1000.0 / max(gp.speed, 0.3)
                ts = frame_times(int(round(dur * 30.0)), t_cursor, rng)
                world, tr = gait.walk(body, gp, (ts - ts[0]) / 1e6, rng, treadmill=False)
                world[..., 2] -= OVERGROUND_PASS_MM - 1000.0 + world[0, 0, 2]
                tr["passes"] = passes
                add(task, ts, world, tr, walking=np.ones(len(ts), bool))
            continue
        dur = _task_duration(task, duration_scale)
        ts = frame_times(int(round(dur * 30.0)), t_cursor, rng)
        t = (ts - ts[0]) / 1e6
        if task in ("treadmill_3kmh", "treadmill_self_selected"):
            world, tr = gait.walk(body, gp, t, rng, treadmill=True)
            world[..., 1] += TREADMILL_DECK_MM
            add(task, ts, world, tr, walking=np.ones(len(t), bool))
        elif task == "walk_in_place":
            world, tr = gait.walk_in_place(body, gp, t, rng)
            add(task, ts, world, tr)
        elif task == "sit_to_stand":
            world, seated, tr = posture.sit_to_stand(body, t, mp["sts_reps_per_30s"], rng,
                                                     thoracic_flex=mp["thoracic_flex"])
            add(task, ts, world, tr, seated=seated)
        elif task == "romberg_eyes_closed":
            world, tr = posture.romberg(body, t, mp["romberg_sway_ap_mm"], rng,
                                        thoracic_flex=mp["thoracic_flex"], pelvis_tilt=mp["pelvis_tilt"])
            add(task, ts, world, tr)
        else:
            raise ValueError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    meta = {
        "generator": "gaitcore.synth", "generator_version": GENERATOR_VERSION, "seed": int(seed),
        "subject_index": int(index), "visit": int(visit), "years_since_baseline": round(years, 3),
        "duration_scale": float(duration_scale),
        "covariates": {"age": round(subj.age, 2), "sex": "M" if subj.male else "F", "height_m": round(subj.height, 4),
                       "bmi": round(subj.bmi, 2), "vat_g": round(subj.vat, 1)},
        "camera": camera.as_dict(),
        "body_mm": {k: round(float(v), 1) for k, v in (("thigh", body.thigh), ("shank", body.shank),
                                                       ("upper_arm", body.upper_arm), ("forearm", body.forearm),
                                                       ("hip_width", 2 * body.hip_half_width))},
        "truth": task_truth,
        "sensor_artefacts": sensor_sum,
    }
    session = Session(np.concatenate(positions), np.concatenate(confidence), np.concatenate(stamps),
                      subj.subject_id, "synthetic", segments, meta, f"{subj.subject_id}_v{visit}")
    row = {"subject": subj.subject_id, "visit": visit, "years_since_baseline": round(years, 3),
           "intervention": int(subj.intervention and visit > 0), "intervention_arm": int(subj.intervention),
           "age": round(subj.age, 2), "sex": "M" if subj.male else "F", "height": round(subj.height, 4),
           "bmi": round(subj.bmi, 2), "vat": round(subj.vat, 1)}
    row.update(phenotype_values(subj, rng_for(seed, index, "phenotypes", visit)))
    latents = {"subject": subj.subject_id, "visit": visit, **{k: round(float(subj.latents[k]), 5) for k in LATENTS}}
    return session, {"phenotypes": row, "latents": latents}


def _job(args: tuple) -> dict:
    seed, index, visit, tasks, scale, out, share = args
    session, rows = build_session(seed, index, visit, tasks, scale, share)
    path = write_session(session, Path(out) / "sessions" / f"{session.session_id}{SUFFIX}")
    rows["file"] = str(path.relative_to(out))
    rows["frames"] = session.n_frames
    return rows


def plan(seed: int, n_subjects: int, visits: int, longitudinal_share: float = 0.5) -> list[tuple[int, int]]:
    """(subject index, visit) pairs in output order: every subject's baseline, repeat visits for the
    longitudinal share."""
    jobs = []
    for i in range(1, n_subjects + 1):
        jobs.append((i, 0))
        if visits > 1 and draw_subject(i, rng_for(seed, i, "subject"), longitudinal_share).longitudinal:
            jobs.extend((i, v) for v in range(1, visits))
    return jobs


def generate_cohort(out: str | os.PathLike, n_subjects: int, seed: int, tasks: Iterable[str] = PROTOCOL_TASKS,
                    duration_scale: float = 1.0, visits: int = 1, workers: int = 1,
                    longitudinal_share: float = 0.5, progress: Callable[[int, int], None] | None = None) -> dict:
    """Write ``sessions/*.gait.npz``, ``phenotypes.csv``, ``latents.csv``, ``truth.json`` and
    ``manifest.json`` under ``out``. Returns the manifest."""
    out = Path(out)
    (out / "sessions").mkdir(parents=True, exist_ok=True)
    tasks = tuple(tasks)
    for t in tasks:
        if t not in TASKS:
            raise ValueError(f"unknown task {t!r}; known: {', '.join(TASKS)}")
    jobs = plan(seed, n_subjects, visits, longitudinal_share)
    args = [(seed, i, v, tasks, duration_scale, str(out), longitudinal_share) for i, v in jobs]
    phen_cols = ["subject", "visit", "years_since_baseline", "intervention", "intervention_arm", "age", "sex",
                 "height", "bmi", "vat"] + [p.name for p in PHENOTYPES]
    lat_cols = ["subject", "visit", *LATENTS]
    frames = 0
    with open(out / "phenotypes.csv", "w", newline="") as fp, open(out / "latents.csv", "w", newline="") as fl:
        wp = csv.DictWriter(fp, phen_cols, lineterminator="\n")
        wl = csv.DictWriter(fl, lat_cols, lineterminator="\n")
        wp.writeheader()
        wl.writeheader()
        if workers > 1:
            import multiprocessing as mp

            with mp.get_context("fork").Pool(workers) as pool:
                results = pool.imap(_job, args, chunksize=2)
                for k, r in enumerate(results, 1):
                    wp.writerow(r["phenotypes"])
                    wl.writerow(r["latents"])
                    frames += r["frames"]
                    if progress:
                        progress(k, len(args))
        else:
            for k, a in enumerate(args, 1):
                r = _job(a)
                wp.writerow(r["phenotypes"])
                wl.writerow(r["latents"])
                frames += r["frames"]
                if progress:
                    progress(k, len(args))
    (out / "truth.json").write_text(json.dumps(truth(), indent=1, sort_keys=True) + "\n")
    manifest = {"generator": "gaitcore.synth", "generator_version": GENERATOR_VERSION, "seed": seed,
                "subjects": n_subjects, "sessions": len(args), "visits": visits, "tasks": list(tasks),
                "duration_scale": duration_scale, "longitudinal_share": longitudinal_share, "frames": frames,
                "covariates": list(COVARIATES), "n_phenotypes": len(PHENOTYPES)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


__all__ = ["build_session", "generate_cohort", "plan", "subject_at_visit", "PROTOCOL_TASKS", "DURATION_S"]
