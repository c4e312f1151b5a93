"""Features recovered (by gaitcore.features) from synthetic overground walking are in normative ranges
and agree with the generator's truth."""

import numpy as np
import pytest

features = pytest.importorskip("gaitcore.features")

from gaitcore.synth.cohort import build_session  # noqa: E402


@pytest.fixture(scope="module")
def recovered():
    out = []
    for i in range(1, 9):
        s, _ = build_session(21, i, 0, tasks=("overground_walk",), duration_scale=0.34)
        fs = features.compute_task_features(s, "overground_walk")
        out.append((fs.values, s.metadata["truth"]["overground_walk"], s.metadata["covariates"]["age"]))
    return out


def test_recovered_in_normative_ranges(recovered):
    speed = np.median([v["walking_speed_m_s"] for v, _, _ in recovered if "walking_speed_m_s" in v])
    cad = np.median([v["cadence_steps_min"] for v, _, _ in recovered if "cadence_steps_min" in v])
    step = np.median([v["step_length_m"] for v, _, _ in recovered if "step_length_m" in v])
    assert 1.1 <= speed <= 1.6  # healthy adults ~1.2-1.5 m/s
    assert 100 <= cad <= 125  # ~100-125 steps/min
    assert 0.55 <= step <= 0.85  # ~0.6-0.8 m


def test_recovered_matches_truth(recovered):
    cad = [(v["cadence_steps_min"], t["cadence_spm"]) for v, t, _ in recovered if "cadence_steps_min" in v]
    assert len(cad) >= 6
    assert np.median([abs(a / b - 1) for a, b in cad]) < 0.03
    spd = [(v["walking_speed_m_s"], t["speed_mps"]) for v, t, _ in recovered if "walking_speed_m_s" in v]
    assert np.median([abs(a / b - 1) for a, b in spd]) < 0.1
