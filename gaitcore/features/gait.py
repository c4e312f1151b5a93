"""Spatio-temporal gait features from gait events (see events.py) and walking speed.

Every function fills ``values`` (feature -> float) and ``missing`` (feature -> reason) dicts and
never writes a placeholder value: too few events means missing, with the counts in the reason.
"""

from __future__ import annotations

import numpy as np

from ..schemas import AZURE32
from .events import GaitEvents
from .signals import moving_average

_J = {n: i for i, n in enumerate(AZURE32.joints)}
SIDES = ("LEFT", "RIGHT")
TREADMILL_TASKS = ("treadmill_3kmh", "treadmill_self_selected")
PROTOCOL_BELT_SPEED = {"treadmill_3kmh": 3.0 / 3.6}  # m/s
TREADMILL_LIKE_M_S = 0.25  # planted feet moving back faster than this (median), pelvis still: a belt


def _at(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Linear interpolation of x [T, ...] at fractional frames t."""
    i0 = np.clip(np.floor(t).astype(int), 0, x.shape[0] - 1)
    i1 = np.clip(i0 + 1, 0, x.shape[0] - 1)
    w = (t - i0).reshape((-1,) + (1,) * (x.ndim - 1))
    return x[i0] * (1 - w) + x[i1] * w


def steps_from_events(ev: GaitEvents) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Alternating heel strikes -> steps. Returns (t_start, t_end, side_of_end) for each step whose two
    heel strikes are of different feet; side 0 = left (a left step ends with a left heel strike)."""
    t = np.concatenate([ev.hs.get("LEFT", np.empty(0)), ev.hs.get("RIGHT", np.empty(0))])
    side = np.concatenate([np.zeros(len(ev.hs.get("LEFT", ())), int), np.ones(len(ev.hs.get("RIGHT", ())), int)])
    o = np.argsort(t)
    t, side = t[o], side[o]
    alt = side[1:] != side[:-1]
    return t[:-1][alt], t[1:][alt], side[1:][alt]


def temporal(ev: GaitEvents, fs: float, values: dict, missing: dict, details: dict) -> None:
    """Cadence, step/stride time, stride CV, step-time asymmetry, stance/swing/support %."""
    names = ("cadence_steps_min", "step_time_s", "step_time_asymmetry_pct", "stride_time_s",
             "stride_time_cv_pct", "stance_pct", "swing_pct", "single_support_pct", "double_support_pct")
    if ev.method == "none":
        for n in names:
            missing[n] = f"no gait events: {ev.reason}"
        return
    details["event_method"] = ev.method
    details["heel_strikes"] = {s.lower(): len(ev.hs.get(s, ())) for s in SIDES}
    details["toe_offs"] = {s.lower(): len(ev.to.get(s, ())) for s in SIDES}
    t0, t1, side = steps_from_events(ev)
    dt = (t1 - t0) / fs
    # a "step" longer than 2 s means an event was missed in between: not a step
    keep = (dt > 0.2) & (dt < 2.0)
    dt, side = dt[keep], side[keep]
    details["steps"] = int(dt.size)
    if dt.size >= 1:
        values["step_time_s"] = float(dt.mean())
        values["cadence_steps_min"] = 60.0 / float(dt.mean())
    else:
        for n in ("step_time_s", "cadence_steps_min"):
            missing[n] = f"no complete step (need a heel strike of each foot in turn; have {details['heel_strikes']})"
    if (side == 0).any() and (side == 1).any():
        lt, rt = dt[side == 0].mean(), dt[side == 1].mean()
        values["step_time_asymmetry_pct"] = float(abs(lt - rt) / ((lt + rt) / 2) * 100)
    else:
        missing["step_time_asymmetry_pct"] = f"needs at least one left and one right step (have {dt.size} steps)"
    strides, stance = [], {}
    for s in SIDES:
        hs, to = ev.hs.get(s, np.empty(0)), ev.to.get(s, np.empty(0))
        st = np.diff(hs) / fs
        ok = (st > 0.4) & (st < 3.0)
        strides.append(st[ok])
        # stance: first toe off after each heel strike, before the next heel strike of the same foot
        if hs.size >= 2 and to.size:
            j = np.searchsorted(to, hs[:-1])
            has = j < to.size
            j = np.minimum(j, to.size - 1)
            good = ok & has & (to[j] < hs[1:])
            if good.any():
                stance[s] = float(np.mean((to[j][good] - hs[:-1][good]) / np.diff(hs)[good]) * 100)
    all_st = np.concatenate(strides)
    details["strides"] = int(all_st.size)
    if all_st.size >= 1:
        values["stride_time_s"] = float(all_st.mean())
    else:
        missing["stride_time_s"] = "no complete stride (need two heel strikes of the same foot)"
    if all_st.size >= 3:
        values["stride_time_cv_pct"] = float(all_st.std(ddof=1) / all_st.mean() * 100)
    else:
        missing["stride_time_cv_pct"] = f"needs >= 3 strides, have {all_st.size}"
    if len(stance) == 2:
        sl, sr = stance["LEFT"], stance["RIGHT"]
        m = (sl + sr) / 2
        values["stance_pct"] = m
        values["swing_pct"] = 100.0 - m
        values["single_support_pct"] = 100.0 - m
        values["double_support_pct"] = sl + sr - 100.0
    else:
        why = (f"needs a full stride with its toe off on both feet (have stance on "
               f"{[s.lower() for s in stance] or 'neither'} foot)")
        for n in ("stance_pct", "swing_pct", "single_support_pct", "double_support_pct"):
            missing[n] = why


def spatial(pos: np.ndarray, ev: GaitEvents, values: dict, missing: dict, details: dict,
            fs: float = 30.0, treadmill: bool = False, belt_m_s: float | None = None) -> None:
    """Step length, stride length, step width, step-length asymmetry (metres)."""
    names = ("step_length_m", "stride_length_m", "step_width_m", "step_length_asymmetry_pct")
    if ev.method != "zeni":
        for n in names:
            missing[n] = (f"no gait events: {ev.reason}" if ev.method == "none"
                          else "feet do not travel (walking in place): no step length")
        return
    prints, n_steps = _footprints(pos, ev, fs)
    ground = _ground_motion(pos, prints, details, fs, treadmill, belt_m_s)
    lengths, widths, sides = [], [], []
    for k, _m, (tx, ty, tt, _), (lx, ly, lt, _) in prints:
        L = lx - (tx + ground * (lt - tt))
        W = np.abs(ly - ty)
        ok = np.isfinite(L) & np.isfinite(W)
        lengths.append(L[ok])
        widths.append(W[ok])
        sides.append(np.full(int(ok.sum()), k))
    if not lengths or sum(x.size for x in lengths) == 0:
        for n in names:
            missing[n] = ("no step with both footprints inside the tracked data (a step needs a heel "
                          "strike of each foot in turn and the flat phase after each; have "
                          f"{n_steps} steps, heel strikes {details.get('heel_strikes')})")
        return
    _step_values(np.concatenate(lengths) / 1000.0, np.concatenate(widths) / 1000.0, np.concatenate(sides),
                 values, missing, details, names)


# Footprint method. Ankle-to-ankle distance at heel strike understates the step: the trailing
# foot is already in heel-off (ankle risen, rolled forward over the toes). Each foot's footprint
# is taken from its flat phase instead, 25-60 % of the step after its own heel strike (after the
# landing, before heel-off): the median AP and ML ankle position there. Overground a planted foot
# is still, so the two footprints are compared directly. On a treadmill both move back with the
# belt: the trailing footprint is carried forward in time to the leading one's by the belt
# displacement (belt speed from metadata, else the median speed of the planted feet).
FOOTPRINT_PHASE = np.linspace(0.25, 0.6, 8)


def _footprint(ank: np.ndarray, start: np.ndarray, span: np.ndarray):
    """One foot's footprints (ankle [T, 2]) over the flat phase of steps starting at ``start`` frames:
    (AP median, ML median, mean time, AP slope in mm/frame), NaN where the phase leaves the data."""
    T = ank.shape[0]
    tw = start[:, None] + FOOTPRINT_PHASE[None, :] * span[:, None]  # [n, 8] fractional frames
    inside = (tw[:, 0] >= 0) & (tw[:, -1] <= T - 1)
    xw = _at(ank[:, 0], tw.ravel()).reshape(tw.shape)
    yw = _at(ank[:, 1], tw.ravel()).reshape(tw.shape)
    x = np.median(xw, axis=1)
    x[~inside] = np.nan
    tc = tw - tw.mean(axis=1, keepdims=True)
    slope = (tc * (xw - xw.mean(axis=1, keepdims=True))).sum(axis=1) / (tc * tc).sum(axis=1)
    return x, np.median(yw, axis=1), tw.mean(axis=1), np.where(inside, slope, np.nan)


def _footprints(pos: np.ndarray, ev: GaitEvents, fs: float):
    """Per side k (the striking foot): (k, its steps, trailing footprints, leading footprints), over the
    steps of plausible duration (0.2-2 s); and how many such steps there are."""
    ank = {s: pos[:, _J[f"ANKLE_{s}"], :2] for s in SIDES}
    t0, t1, side = steps_from_events(ev)
    dt = t1 - t0
    keep = (dt > 0.2 * fs) & (dt < 2.0 * fs)
    t0, t1, side, dt = t0[keep], t1[keep], side[keep], dt[keep]
    prints = []
    for k, s in enumerate(SIDES):
        m = side == k
        if m.any():
            prints.append((k, m, _footprint(ank[SIDES[1 - k]], t0[m], dt[m]), _footprint(ank[s], t1[m], dt[m])))
    return prints, int(t0.size)


def _ground_motion(pos: np.ndarray, prints: list, details: dict, fs: float, treadmill: bool,
                   belt_m_s: float | None) -> float:
    """The ground's AP velocity under the planted feet (mm/frame): 0 overground, minus the belt speed on
    a treadmill (from metadata, else measured), or measured when overground data look like a treadmill."""
    slopes = np.concatenate([np.r_[tr[3], ld[3]] for _, _, tr, ld in prints]) if prints else np.empty(0)
    slopes = slopes[np.isfinite(slopes)]
    measured = float(np.median(slopes)) if slopes.size else 0.0
    details["planted_foot_speed_m_s"] = round(-measured * fs / 1000.0, 4)
    ground = 0.0
    if treadmill:
        ground = -float(belt_m_s) * 1000.0 / fs if belt_m_s else measured
    elif -measured * fs / 1000.0 > TREADMILL_LIKE_M_S and pelvis_speed(pos, fs)[0] < 0.2:
        # the task says overground, but the pelvis stays put while the planted feet move back
        # steadily: treadmill-like data
        ground = measured
        details["treadmill_like"] = True
    return ground


def _step_values(L: np.ndarray, W: np.ndarray, S: np.ndarray, values: dict, missing: dict, details: dict,
                 names: tuple[str, ...]) -> None:
    """Step length and width (m), and with steps of both feet stride length and asymmetry (%)."""
    good = (L > 0.05) & (L < 2.0)  # the striking foot must be in front
    details["steps_with_length"] = int(good.sum())
    if not good.any():
        for n in names:
            missing[n] = "no heel strike with the striking foot in front of the other"
        return
    values["step_length_m"] = float(L[good].mean())
    values["step_width_m"] = float(W[good].mean())
    if (S[good] == 0).any() and (S[good] == 1).any():
        ll, lr = L[good & (S == 0)].mean(), L[good & (S == 1)].mean()
        values["step_length_asymmetry_pct"] = float(abs(ll - lr) / ((ll + lr) / 2) * 100)
        values["stride_length_m"] = float(ll + lr)
    else:
        why = f"needs steps of both feet (have {int((S[good] == 0).sum())} left, {int((S[good] == 1).sum())} right)"
        missing["step_length_asymmetry_pct"] = why
        missing["stride_length_m"] = why


def pelvis_speed(pos: np.ndarray, fs: float) -> tuple[float, str]:
    """Walking speed (m/s) from the horizontal pelvis path. Returns (speed or NaN, method/reason)."""
    p = pos[:, _J["PELVIS"], :2].astype(np.float64)
    ok = np.isfinite(p).all(axis=1)
    n_ok = int(ok.sum())
    if n_ok < fs:
        return float("nan"), f"pelvis tracked for {n_ok / fs:.1f} s (< 1 s)"
    T = p.shape[0]
    if T >= 3 * fs:
        # path length of the 1 s-smoothed trajectory, using only the frames with a full window
        sm = moving_average(np.where(ok[:, None], p, np.nan), int(fs) | 1)
        h = int(fs) // 2
        seg = sm[h:T - h]
        d = np.linalg.norm(np.diff(seg, axis=0), axis=1)
        good = np.isfinite(d)
        if good.sum() >= fs:
            return float(d[good].sum() / (good.sum() / fs) / 1000.0), "pelvis_path"
    # short clip: least-squares slope of the pelvis position over time
    t = np.flatnonzero(ok) / fs
    A = np.vstack([t, np.ones_like(t)]).T
    coef, *_ = np.linalg.lstsq(A, p[ok], rcond=None)
    return float(np.linalg.norm(coef[0]) / 1000.0), "pelvis_linear_fit"


def belt_speed(task: str, metadata: dict) -> float | None:
    """Known belt speed (m/s) of a treadmill task: metadata['belt_speed_m_s'], else the protocol's."""
    if task not in TREADMILL_TASKS:
        return None
    belt = metadata.get("belt_speed_m_s")
    try:
        if belt is not None and np.isfinite(float(belt)) and float(belt) > 0:
            return float(belt)
    except (TypeError, ValueError):
        pass
    return PROTOCOL_BELT_SPEED.get(task)


def walking_speed(pos: np.ndarray, fs: float, task: str, metadata: dict, values: dict, missing: dict,
                  details: dict) -> None:
    name = "walking_speed_m_s"
    if task in TREADMILL_TASKS:
        belt = metadata.get("belt_speed_m_s")
        if belt is not None and np.isfinite(float(belt)) and float(belt) > 0:
            values[name] = float(belt)
            details["speed_method"] = "belt_speed_metadata"
        elif task in PROTOCOL_BELT_SPEED:
            values[name] = PROTOCOL_BELT_SPEED[task]
            details["speed_method"] = "protocol_belt_speed"
        elif "step_length_m" in values and "cadence_steps_min" in values:
            values[name] = values["step_length_m"] * values["cadence_steps_min"] / 60.0
            details["speed_method"] = "step_length_x_cadence"
        else:
            missing[name] = "treadmill without belt speed, and step length or cadence missing"
        return
    v, how = pelvis_speed(pos, fs)
    if details.get("treadmill_like") and "step_length_m" in values and "cadence_steps_min" in values:
        values[name] = values["step_length_m"] * values["cadence_steps_min"] / 60.0
        details["speed_method"] = "step_length_x_cadence (treadmill-like data: planted feet move back)"
    elif np.isfinite(v):
        values[name] = v
        details["speed_method"] = how
    elif "step_length_m" in values and "cadence_steps_min" in values:
        values[name] = values["step_length_m"] * values["cadence_steps_min"] / 60.0
        details["speed_method"] = "step_length_x_cadence"
    else:
        missing[name] = how
