"""Step 5: find the vertical axis and the walking (facing) direction from the data, and detect
left/right labels that are mirrored relative to the body's geometry.

Nothing about the sensor's axes is assumed; it works for a y-up camera (Kinect v2), a y-down camera
(Azure depth camera: x right, y down, z forward), a z-up floor frame, and a camera that pans with
the walker (yaws about the vertical).

* Vertical ("up"): see ``estimate_up``: walking -> (direction the stance feet slide relative to the
  pelvis) x (lateral hip/shoulder axis), both horizontal; otherwise the median trunk direction
  (pelvis -> neck/chest). Sign: feet -> head.
* Facing direction: per frame, the label-derived lateral vector (left minus right hips and
  shoulders) projected on the horizontal plane; forward = left x up (right-handed). Smoothed over
  1 s. The camera is taken to pan (``per_frame``: each frame rotated by its own heading, so the
  pelvis path of a straight walk is recovered) when the heading varies by more than ``PAN_DEG``
  (5-95 % range), turns steadily (linear trend > ``PAN_DEG`` over the recording) and the pelvis's
  direction of travel in sensor space does not turn along with it, and the sensor origin is at least
  0.3 m above the feet (a floor frame never pans). Otherwise (noisy labels, a walker turning in front
  of a static camera) one fixed rotation is used (``fixed``).
  In fixed mode a straight overground walk's own direction (pelvis travel) is the forward axis
  (``heading_source: travel``); it is less noisy than the tracked hips and shoulders.
* Mirror check: independent geometric evidence of where the body faces -- toes ahead of ankles,
  nose ahead of the head, and the direction of travel of the pelvis (static camera only) -- is
  compared with the label-derived forward. If it points backwards (score < -``MIRROR_SCORE``), the
  left/right labels are mirrored relative to the geometry (or the source frame is left-handed) and are
  swapped. Without any evidence the check says "undetermined" and changes nothing.

Output frame ("body frame"): x forward (AP), y left (ML), z up (vertical), millimetres; z = 0 at the
level of the lowest foot joint (1st percentile); x, y = 0 at the first tracked pelvis position.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..schemas import AZURE32, mirror_index
from ._fast import cross, norm3, pct

_J = {n: i for i, n in enumerate(AZURE32.joints)}
PAN_DEG = 15.0
TURN_DEG = 60.0  # facing range (static camera) above which the walker is taken to turn
MIRROR_SCORE = 0.2
MIRROR_PERM = mirror_index(AZURE32)


def _unit(v: np.ndarray) -> np.ndarray:
    n = norm3(v)[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / n


def _nanmean_vec(vs: list[np.ndarray]) -> np.ndarray:
    s = np.stack(vs)  # [K, T, 3]
    ok = np.isfinite(s[..., 0] + s[..., 1] + s[..., 2])
    tot = np.where(ok[..., None], s, 0.0).sum(axis=0)
    cnt = ok.sum(axis=0)
    out = tot / np.maximum(cnt, 1)[:, None]
    out[cnt == 0] = np.nan
    return out


def _smooth(v: np.ndarray, n: int) -> np.ndarray:
    """Centred moving average over ``n`` frames ignoring NaN rows. v: [T, 3]."""
    ok = np.isfinite(v).all(axis=1)
    x = np.where(ok[:, None], v, 0.0)
    c = np.concatenate([np.zeros((1, 3)), np.cumsum(x, axis=0)])
    k = np.concatenate([[0], np.cumsum(ok)])
    T = v.shape[0]
    lo = np.clip(np.arange(T) - n // 2, 0, T)
    hi = np.clip(np.arange(T) + n // 2 + 1, 0, T)
    cnt = (k[hi] - k[lo])[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, (c[hi] - c[lo]) / cnt, np.nan)


def _up_from_trunk(P: np.ndarray) -> np.ndarray:
    pel = P[:, _J["PELVIS"]]
    upper = _nanmean_vec([P[:, _J["NECK"]], P[:, _J["SPINE_CHEST"]]])
    per = _unit(upper - pel)
    ok = np.isfinite(per).all(axis=1)
    if not ok.any():
        per = _unit(P[:, _J["HEAD"]] - _nanmean_vec([P[:, _J["ANKLE_LEFT"]], P[:, _J["ANKLE_RIGHT"]]]))
        ok = np.isfinite(per).all(axis=1)
    if not ok.any():
        raise ValueError("cannot find the vertical: no frame with trunk or leg joints tracked")
    return _unit(np.median(per[ok], axis=0))


def estimate_up(P: np.ndarray) -> tuple[np.ndarray, str]:
    """Unit vertical vector (3,) in sensor coordinates from NaN-masked positions P [T, 32, 3].

    First guess: the median trunk direction (pelvis -> neck/chest). Refinement when the subject
    walks: the stance ankles (frames where the ankle is low relative to the pelvis) lie along the
    walking line overground and slide back along the belt on a treadmill, so their principal
    direction W is horizontal: up = the trunk direction made perpendicular to W (W fixes the pitch,
    the trunk the roll: on average people do not lean sideways).
    Returns (up, method) with method "walking" or "trunk".
    """
    up0 = _up_from_trunk(P)
    pts = []
    pel = P[:, _J["PELVIS"]]
    for side in ("LEFT", "RIGHT"):
        rel = P[:, _J[f"ANKLE_{side}"]] - pel
        h = rel @ up0
        ok = np.isfinite(h)
        if ok.sum() < 20:
            continue
        stance = ok & (h <= pct(h[ok], 40))
        # the stance ankles themselves (not relative to the pelvis): overground they lie along the
        # walking line (metres of extent), on a treadmill they slide back along the belt
        r = P[stance, _J[f"ANKLE_{side}"]]
        if not np.isfinite(r).all():
            r = r[np.isfinite(r).all(axis=1)]
        pts.append(r - r.mean(axis=0))
    if not pts:
        return up0, "trunk"
    X = np.concatenate(pts)
    if X.shape[0] < 20:
        return up0, "trunk"
    w, V = np.linalg.eigh(X.T @ X / X.shape[0])
    W = V[:, 2]
    if not (np.sqrt(w[2]) > 50.0 and w[2] > 6.0 * w[1]):
        return up0, "trunk"
    # W fixes the pitch; the roll about W comes from the trunk (people do not lean sideways on
    # average; the tracked hip/shoulder axes of real Kinect data are tilted by a few degrees)
    up = _unit(up0 - (up0 @ W) * W)
    if up @ up0 < np.cos(np.radians(35)):
        return up0, "trunk"
    return up, "walking"


def _horizontal(v: np.ndarray, up: np.ndarray) -> np.ndarray:
    return v - (v @ up)[..., None] * up


@dataclass
class BodyFrame:
    """Where the body is in sensor space. ``rotation`` [T, 3, 3]: rows = forward, left, up (sensor
    coordinates); ``origin`` (3,) sensor coordinates of the body-frame origin (mm)."""

    up: np.ndarray
    rotation: np.ndarray
    origin: np.ndarray
    heading_mode: str
    heading_range_deg: float
    mirrored: bool
    mirror_score: float | None
    evidence: dict = field(default_factory=dict)
    up_method: str = "trunk"
    heading_source: str = "labels"

    @property
    def warnings(self) -> list[str]:
        """Conditions under which the body frame is approximate."""
        out = []
        if self.heading_mode == "fixed" and self.heading_range_deg > TURN_DEG:
            out.append(f"the facing direction varies by {self.heading_range_deg:.0f} deg with a static camera "
                       "(the walker turns): one fixed heading is used, so AP/ML features mix during turns")
        return out

    def record(self) -> dict:
        return {
            "up_in_sensor": [round(float(x), 4) for x in self.up],
            "up_method": self.up_method,
            "forward_in_sensor": [round(float(x), 4) for x in np.nanmean(self.rotation[:, 0], axis=0)],
            "heading_mode": self.heading_mode,
            "heading_source": self.heading_source,
            "heading_range_deg": round(self.heading_range_deg, 1),
            "mirrored_labels_fixed": self.mirrored,
            "mirror_score": None if self.mirror_score is None else round(self.mirror_score, 3),
            "mirror_evidence": {k: round(v, 3) for k, v in self.evidence.items()},
            "warnings": self.warnings,
        }


def _slope(t: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y over t (1-D)."""
    tc = t - t.mean()
    d = float(tc @ tc)
    return float(tc @ (y - y.mean()) / d) if d > 0 else 0.0


def _median_cos(v: np.ndarray, fwd: np.ndarray, up: np.ndarray, min_mm: float) -> float | None:
    h = _horizontal(v, up)
    n = np.linalg.norm(h, axis=1)
    ok = np.isfinite(n) & (n > min_mm) & np.isfinite(fwd).all(axis=1)
    if ok.sum() < 5:
        return None
    return float(np.median(np.einsum("ij,ij->i", h[ok] / n[ok, None], fwd[ok])))


def find_body_frame(P: np.ndarray, fs: float = 30.0, check_mirror: bool = True) -> tuple[BodyFrame, np.ndarray]:
    """Find the body frame of NaN-masked positions P [T, 32, 3] (sensor space, mm).

    Returns the frame and the positions with left/right labels fixed if they were mirrored (a
    permuted copy of P, or P itself). Long recordings are analysed on every ``step``-th frame (at most
    ~2000 frames; the estimates are statistics over the recording), and the result expanded to all.
    """
    T_full = P.shape[0]
    step = max(T_full // 2000, 1)
    P_full = P
    if step > 1:
        P = P_full[::step]
        fs = fs / step
    up, up_method = estimate_up(P)
    e1, e2, theta, ok, hrange = _facing(P, up, fs)
    tf = np.flatnonzero(ok) / fs
    facing_turn = float(np.degrees(_slope(tf, theta) * (tf[-1] - tf[0]))) if tf.size > 1 else 0.0
    travel_dir, travel_turn = _travel(P, up, fs, e1, e2)
    # The camera pans when the facing direction turns steadily (linear trend over the recording
    # > PAN_DEG) while the walker's direction of travel in sensor space does not turn along with it.
    # Noisy labels (no trend) or a walker turning in front of a static camera keep one rotation.
    # A camera that pans sits above the floor: a frame whose origin lies on the floor (a floor frame,
    # feet within 0.3 m of the origin's level) never pans.
    floor = _floor_level(P, up)
    pans = (hrange > PAN_DEG and abs(facing_turn) > PAN_DEG and floor < -300.0
            and (travel_turn is None or abs(travel_turn) < 0.5 * abs(facing_turn)))
    if not pans:
        mode = "fixed"
        F_lab = np.broadcast_to(e1, P.shape[:1] + (3,)).copy()
    else:
        mode = "per_frame"
        th = np.interp(np.arange(P.shape[0]), np.flatnonzero(ok), theta)
        F_lab = np.cos(th)[:, None] * e1 + np.sin(th)[:, None] * e2
    travel_cos = float(travel_dir @ e1) if mode == "fixed" and travel_dir is not None else None
    ev = _mirror_evidence(P, F_lab, up, travel_cos)
    score = _mirror_score(ev)
    mirrored = False
    if score is not None and check_mirror and score < -MIRROR_SCORE:
        mirrored = True
        P_full = P_full[:, MIRROR_PERM]
        e1 = -e1  # the label-derived lateral flips, so does the forward derived from it
        score = -score
    F, heading_source = _forward_axes(mode, travel_dir, e1, e2, theta, ok, T_full, step, mirrored)
    L = cross(up, F)
    R = np.stack([F, L, np.broadcast_to(up, F.shape)], axis=1)  # [T, 3, 3]
    origin = _origin(P_full, up, floor)
    return BodyFrame(up, R, origin, mode, hrange, mirrored, score, ev, up_method, heading_source), P_full


def _facing(P: np.ndarray, up: np.ndarray, fs: float):
    """The facing direction from the hip and shoulder labels: (e1 the mean forward, e2 = up x e1, the
    heading angle theta per frame where known, which frames know it, the 5-95% heading range in deg)."""
    lat = _nanmean_vec([
        _unit(P[:, _J["HIP_LEFT"]] - P[:, _J["HIP_RIGHT"]]),
        _unit(P[:, _J["SHOULDER_LEFT"]] - P[:, _J["SHOULDER_RIGHT"]]),
    ])
    lat = _unit(_horizontal(lat, up))
    fwd = _unit(cross(lat, up))  # [T, 3], NaN where no lateral joints
    fwd_s = _unit(_smooth(fwd, int(fs) | 1))
    ok = np.isfinite(fwd_s).all(axis=1)
    if not ok.any():
        raise ValueError("cannot find the facing direction: hips and shoulders never tracked")
    e1 = _unit(np.mean(fwd_s[ok], axis=0))
    if not np.isfinite(e1).all():  # opposite headings cancelled out
        e1 = fwd_s[ok][0]
    e2 = cross(up, e1)
    theta = np.unwrap(np.arctan2(fwd_s[ok] @ e2, fwd_s[ok] @ e1))
    q5, q95 = pct(theta, [5, 95])
    return e1, e2, theta, ok, float(np.degrees(q95 - q5))


def _travel(P: np.ndarray, up: np.ndarray, fs: float, e1: np.ndarray, e2: np.ndarray):
    """Pelvis travel in sensor space (0.5 s differences): (its direction if the walk is straight, how far
    it turns over the recording in deg); None where the walker hardly moves."""
    pel = P[:, _J["PELVIS"]]
    k = max(int(fs // 2), 1)
    travel_dir = None
    travel_turn = None
    if pel.shape[0] > k:
        vel = _horizontal((pel[k:] - pel[:-k]) * (fs / k), up)
        speed = np.linalg.norm(vel, axis=1)
        moving = np.isfinite(speed) & (speed > 300.0)
        if moving.sum() > 0.5 * len(speed):
            u = vel[moving] / speed[moving, None]
            m = u.mean(axis=0)
            if np.linalg.norm(m) > 0.9:  # a straight walk
                travel_dir = _unit(m)
            tt = (np.flatnonzero(moving) + k / 2) / fs
            ang = np.unwrap(np.arctan2(u @ e2, u @ e1))
            travel_turn = float(np.degrees(_slope(tt, ang) * (tt[-1] - tt[0]))) if tt.size > 1 else 0.0
    return travel_dir, travel_turn


def _floor_level(P: np.ndarray, up: np.ndarray) -> float:
    """The floor's height along ``up``: the 1st percentile of the feet (the lowest joint without feet)."""
    feet = P[:, [_J["ANKLE_LEFT"], _J["ANKLE_RIGHT"], _J["FOOT_LEFT"], _J["FOOT_RIGHT"]]] @ up
    return pct(feet.ravel(), 1) if np.isfinite(feet).any() else float(np.nanmin(P @ up))


MIRROR_WEIGHTS = {"toes": 1.0, "nose": 1.0, "travel": 2.0}


def _mirror_evidence(P: np.ndarray, F_lab: np.ndarray, up: np.ndarray, travel_cos: float | None) -> dict[str, float]:
    """Cosines between geometric forward cues (toes, nose, a straight walk's travel) and the forward
    derived from the labels: negative when the left/right labels are mirrored."""
    ev: dict[str, float] = {}
    toes = [
        _median_cos(P[:, _J[f"FOOT_{s}"]] - P[:, _J[f"ANKLE_{s}"]], F_lab, up, 20.0) for s in ("LEFT", "RIGHT")
    ]
    toes = [t for t in toes if t is not None]
    if toes:
        ev["toes"] = float(np.mean(toes))
    nose = _median_cos(P[:, _J["NOSE"]] - P[:, _J["HEAD"]], F_lab, up, 20.0)
    if nose is not None:
        ev["nose"] = nose
    if travel_cos is not None:
        ev["travel"] = travel_cos
    return ev


def _mirror_score(ev: dict[str, float]) -> float | None:
    if not ev:
        return None
    return sum(MIRROR_WEIGHTS[k] * v for k, v in ev.items()) / sum(MIRROR_WEIGHTS[k] for k in ev)


def _forward_axes(mode: str, travel_dir, e1: np.ndarray, e2: np.ndarray, theta: np.ndarray, ok: np.ndarray,
                  T_full: int, step: int, mirrored: bool) -> tuple[np.ndarray, str]:
    """The forward axis of every frame [T, 3] and where it came from ("travel" or "labels")."""
    sgn = -1.0 if mirrored else 1.0
    if mode == "fixed" and travel_dir is not None and travel_dir @ e1 > np.cos(np.radians(45)):
        # a straight overground walk: its direction is a better forward axis than the tracked hips
        return np.broadcast_to(travel_dir, (T_full, 3)).copy(), "travel"
    if mode == "fixed":
        return np.broadcast_to(e1, (T_full, 3)).copy(), "labels"
    th = np.interp(np.arange(T_full) / step, np.flatnonzero(ok), theta)
    return sgn * (np.cos(th)[:, None] * (sgn * e1) + np.sin(th)[:, None] * e2), "labels"


def _origin(P: np.ndarray, up: np.ndarray, floor: float) -> np.ndarray:
    """The first tracked pelvis (horizontal) at the lowest foot level (vertical)."""
    pel = P[:, _J["PELVIS"]]
    first = np.flatnonzero(np.isfinite(pel).all(axis=1))
    o = pel[first[0]] if first.size else np.zeros(3)
    return o - (o @ up) * up + floor * up


def to_body(P: np.ndarray, frame: BodyFrame) -> np.ndarray:
    """Rotate/translate positions [T, J, 3] (sensor space) into the body frame: x fwd, y left, z up.

    In per-frame mode each frame is rotated about the sensor origin (a camera panning about its own
    vertical axis), so the pelvis path stays meaningful for a walker who walks straight.
    """
    Rt = np.swapaxes(frame.rotation, 1, 2)
    if frame.heading_mode == "fixed":
        return (P - frame.origin) @ Rt[0]
    out = np.matmul(P, Rt)
    o = np.matmul(frame.origin, Rt[0])  # origin expressed with the first frame's rotation
    return out - o
