"""Azure Kinect-like sensor model: camera pose, timing, joint noise, occlusions, swaps.

World frame (generator): x = subject's left, y = up, z = towards the camera, mm, floor y = 0; the
subject stands/walks at the world origin facing the camera (treadmill position). Camera space (Azure
depth camera): x right in the image, y down, z away from the camera along the optical axis, mm.

* Camera pose per session: height 0.8-1.3 m, distance to the treadmill 2.2-3.0 m, pitched down
  2-10 deg, small yaw (+-3 deg), roll (+-1.5 deg) and lateral offset (+-10 cm).
* Timing: 30 fps nominal, device timestamps with ~0.3 ms Gaussian jitter, ~0.4 % of frames dropped
  (single frames and occasional bursts of 2-6); the motion is sampled at the true (jittered) times.
* Jitter: per-joint SD at 2.5 m from ~1.5 mm (pelvis, spine) to ~4-9 mm (wrists, hands, feet),
  x2 along depth, growing linearly with distance and with joint speed (motion blur, 1 % of the speed
  in mm/frame); part white, part low-passed over ~3 frames (the tracker's temporal smoothing). Albert et
  al. 2020 (Sensors 20:5104) and Tölgyessy et al. 2021 (Sensors 21:413) report Azure Kinect joint
  errors and jitter of this size, larger distally and along depth.
* Slow tracking error: low-passed (~0.5 s) error of 3 x the jitter SD per joint; bone lengths vary
  over frames by a few per cent (real Kinect v2 walks: ~7 %, see the realism report).
* Occlusion: joints leave the field of view (NFOV unbinned, 75 x 65 deg) -> LOW, far outside -> NONE;
  a wrist/elbow behind the trunk -> LOW; random drop-out bursts (mean ~6 frames) at per-joint rates
  from ~0.2 % (torso) to ~3 % (hand tips) of frames -> LOW, 10 % of them NONE; while LOW/NONE the
  tracker's *predicted* position drifts (low-passed error, SD ~25 mm). Seated frames (chair): hips,
  pelvis and knees often LOW. Otherwise MEDIUM (the SDK's maximum in practice).
* Left/right leg swaps: the body tracker occasionally labels the legs the wrong way round for a few
  frames (~1 event per 40 s of walking, 2-12 frames): hip, knee, ankle and foot of the two sides are
  exchanged; confidence stays MEDIUM (the tracker does not know).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

from ..schemas import AZURE32, Confidence, mirror_index

# per-joint base jitter SD (mm) at 2.5 m, lateral/vertical axes
_SIGMA = {
    "PELVIS": 1.5, "SPINE_NAVEL": 1.5, "SPINE_CHEST": 1.6, "NECK": 2.0, "CLAVICLE_LEFT": 2.0,
    "SHOULDER_LEFT": 2.2, "ELBOW_LEFT": 3.0, "WRIST_LEFT": 4.0, "HAND_LEFT": 6.0, "HANDTIP_LEFT": 9.0,
    "THUMB_LEFT": 9.0, "HIP_LEFT": 2.5, "KNEE_LEFT": 3.0, "ANKLE_LEFT": 4.5, "FOOT_LEFT": 6.0,
    "HEAD": 2.0, "NOSE": 2.5, "EYE_LEFT": 2.5, "EAR_LEFT": 3.0,
}  # fmt: skip
# per-joint drop-out burst start rate (per frame)
_DROP = {
    "PELVIS": 0.0004, "SPINE_NAVEL": 0.0004, "SPINE_CHEST": 0.0004, "NECK": 0.0006, "CLAVICLE_LEFT": 0.0008,
    "SHOULDER_LEFT": 0.001, "ELBOW_LEFT": 0.002, "WRIST_LEFT": 0.003, "HAND_LEFT": 0.004,
    "HANDTIP_LEFT": 0.006, "THUMB_LEFT": 0.006, "HIP_LEFT": 0.001, "KNEE_LEFT": 0.0015,
    "ANKLE_LEFT": 0.0025, "FOOT_LEFT": 0.004, "HEAD": 0.0006, "NOSE": 0.001, "EYE_LEFT": 0.001,
    "EAR_LEFT": 0.0015,
}  # fmt: skip


def _per_joint(table: dict) -> np.ndarray:
    return np.array([table[j.replace("RIGHT", "LEFT")] for j in AZURE32.joints])


SIGMA_MM = _per_joint(_SIGMA)
DROP_RATE = _per_joint(_DROP)
LEG_JOINTS = [AZURE32.index(f"{j}_{s}") for s in ("LEFT", "RIGHT") for j in ("HIP", "KNEE", "ANKLE", "FOOT")]
FRAME_US = 1_000_000 / 30.0


@dataclass(frozen=True)
class CameraPose:
    """Depth camera placement (mm, degrees) relative to the world origin (treadmill position)."""

    height_mm: float
    distance_mm: float
    tilt_deg: float  # pitched down
    yaw_deg: float = 0.0
    roll_deg: float = 0.0
    lateral_mm: float = 0.0

    @staticmethod
    def draw(rng: np.random.Generator) -> CameraPose:
        return CameraPose(float(rng.uniform(800, 1300)), float(rng.uniform(2200, 3000)), float(rng.uniform(2, 10)),
                          float(rng.uniform(-3, 3)), float(rng.uniform(-1.5, 1.5)), float(rng.uniform(-100, 100)))

    def rotation(self) -> np.ndarray:
        """World -> camera rotation [3, 3] (rows = camera axes in world coordinates)."""
        t = np.radians(self.tilt_deg)
        z = np.array([0.0, -np.sin(t), -np.cos(t)])  # optical axis: towards the subject, down
        y = np.array([0.0, -np.cos(t), np.sin(t)])  # image down
        x = np.cross(y, z)
        r = np.stack([x, y, z])
        a, b = np.radians(self.yaw_deg), np.radians(self.roll_deg)
        yaw = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        roll = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
        return roll @ yaw @ r

    def to_camera(self, world: np.ndarray) -> np.ndarray:
        """World positions [..., 3] -> camera space [..., 3] (mm)."""
        centre = np.array([self.lateral_mm, self.height_mm, self.distance_mm])
        return (world - centre) @ self.rotation().T

    def as_dict(self) -> dict:
        return {k: round(v, 2) for k, v in asdict(self).items()}


def frame_times(n_nominal: int, t0_us: int, rng: np.random.Generator, drop_rate: float = 0.004
                ) -> np.ndarray:
    """Timestamps (µs, int64) of the frames that survive, for ``n_nominal`` nominal frames from
    ``t0_us``: ~0.3 ms jitter, single and burst drops. Strictly increasing."""
    k = np.arange(n_nominal)
    keep = rng.random(n_nominal) >= drop_rate
    starts = np.flatnonzero(rng.random(n_nominal) < drop_rate / 8)
    for s in starts:  # a handful per session at most
        keep[s:s + int(rng.integers(2, 7))] = False
    keep[0] = True
    ts = t0_us + np.round(k * FRAME_US + rng.normal(0, 300, n_nominal)).astype(np.int64)
    ts = ts[keep]
    return ts  # jitter (0.3 ms) << frame period (33 ms): stays strictly increasing


def _bursts(rng: np.random.Generator, n: int, rate: np.ndarray, mean_len: float) -> np.ndarray:
    """Boolean [n, J]: drop-out bursts starting at per-joint ``rate`` per frame, geometric lengths."""
    j = len(rate)
    start = rng.random((n, j)) < rate[None, :]
    out = np.zeros((n, j), dtype=bool)
    ti, ji = np.nonzero(start)
    lens = rng.geometric(1.0 / mean_len, size=len(ti))
    for a, b, ln in zip(ti, ji, lens, strict=False):
        out[a:a + ln, b] = True
    return out


def observe(world: np.ndarray, camera: CameraPose, rng: np.random.Generator, *, seated: np.ndarray | None = None,
            walking: np.ndarray | None = None, noise_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, dict]:
    """What an Azure Kinect would report for the true motion ``world`` [T, 32, 3] (mm, world frame).

    ``seated`` / ``walking`` are boolean masks [T]. Returns camera-space positions [T, 32, 3] float32,
    confidence [T, 32] uint8 and a summary of the injected artefacts."""
    n = world.shape[0]
    cam = camera.to_camera(world)
    depth = np.clip(cam[..., 2], 500, None)
    dist_f = depth / 2500.0
    vel = np.zeros_like(cam)
    vel[1:] = np.linalg.norm(np.diff(cam, axis=0), axis=-1)[..., None]
    sig = (SIGMA_MM[None, :] * dist_f + 0.01 * vel[..., 0]) * noise_scale  # [T, 32]
    axis_f = np.array([1.0, 1.0, 2.0])
    white = rng.standard_normal((n, 32, 3))
    smooth = uniform_filter1d(rng.standard_normal((n, 32, 3)), 3, axis=0, mode="nearest") * np.sqrt(3)
    noise = (0.7 * white + 0.7 * smooth) * sig[..., None] * axis_f
    # slow, pose-dependent tracking error (the body model fits the depth surface differently as the
    # pose changes): low-passed over ~0.5 s, 3 x the jitter SD; makes bone lengths "breathe" as in
    # real Kinect data without adding high-frequency power
    bias = uniform_filter1d(rng.standard_normal((n, 32, 3)), 15, axis=0, mode="nearest") * np.sqrt(15 / 2.0)
    noise += 3.0 * bias * (SIGMA_MM[None, :] * dist_f * noise_scale)[..., None] * axis_f
    conf = np.full((n, 32), int(Confidence.MEDIUM), dtype=np.uint8)

    # random drop-out bursts -> LOW (10 % NONE); seated: hips/pelvis/knees often occluded by the thighs
    low = _bursts(rng, n, DROP_RATE * 1.0, 6.0)
    if seated is not None and seated.any():
        idx = [AZURE32.index(j) for j in ("PELVIS", "HIP_LEFT", "HIP_RIGHT", "KNEE_LEFT", "KNEE_RIGHT")]
        extra = _bursts(rng, n, np.full(len(idx), 0.05), 8.0) & seated[:, None]
        low[:, idx] |= extra
    # wrist/elbow/hand behind the trunk (further from the camera than the chest, within its width)
    chest = cam[:, AZURE32.index("SPINE_CHEST")]
    half_w = 0.45 * np.linalg.norm(cam[:, AZURE32.index("SHOULDER_LEFT")] - cam[:, AZURE32.index("SHOULDER_RIGHT")], axis=-1)
    for name in ("ELBOW", "WRIST", "HAND", "HANDTIP", "THUMB"):
        for side in ("LEFT", "RIGHT"):
            j = AZURE32.index(f"{name}_{side}")
            behind = (cam[:, j, 2] > chest[:, 2] + 80) & (np.abs(cam[:, j, 0] - chest[:, 0]) < half_w)
            low[:, j] |= behind
    # field of view (NFOV unbinned 75 x 65 deg)
    fx, fy = np.tan(np.radians(37.5)), np.tan(np.radians(32.5))
    ox = np.abs(cam[..., 0]) / depth - fx
    oy = np.abs(cam[..., 1]) / depth - fy
    outside = (ox > 0) | (oy > 0)
    far_out = (ox > 0.15) | (oy > 0.15)
    low |= outside
    none = far_out | (low & (rng.random((n, 32)) < 0.1) & ~outside)
    conf[low] = int(Confidence.LOW)
    conf[none] = int(Confidence.NONE)
    # predicted (not measured) joints drift: low-passed error of ~25 mm SD
    drift = uniform_filter1d(rng.standard_normal((n, 32, 3)), 9, axis=0, mode="nearest") * 25.0 * 3.0
    noise = np.where(low[..., None], noise + drift, noise)
    obs = cam + noise

    # left/right leg swaps during walking
    swaps = 0
    if walking is not None and walking.any():
        rate = 1.0 / (40 * 30.0)
        starts = np.flatnonzero(walking & (rng.random(n) < rate))
        perm = mirror_index()
        for s in starts:
            e = min(n, s + int(rng.integers(2, 13)))
            obs[s:e, LEG_JOINTS] = obs[s:e][:, perm[LEG_JOINTS]]
            conf[s:e, LEG_JOINTS] = conf[s:e][:, perm[LEG_JOINTS]]
            swaps += 1
    summary = {"low_fraction": round(float(np.mean(conf == Confidence.LOW)), 5),
               "none_fraction": round(float(np.mean(conf == Confidence.NONE)), 5), "leg_swaps": swaps}
    return obs.astype(np.float32), conf, summary
