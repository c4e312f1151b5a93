"""Every validation error, and every repair, on small recordings built here."""

from __future__ import annotations

import numpy as np
import pytest

from gaitcore import validation as V
from gaitcore.errors import ValidationError
from gaitcore.importers import read_recording
from gaitcore.schemas import KINECT_V2, Confidence
from gaitcore.validation import Limits, RawRecording, check_file, validate_recording

from .fixtures_import import v2_from_azure, walk, write_kinect_v2

FILE = "rec.txt"


def raw(n: int = 90, ts: np.ndarray | None = None, **kw) -> RawRecording:
    """A clean Kinect v2 walk in mm, 30 Hz timestamps."""
    pos = v2_from_azure(walk(n))
    ts = np.rint(np.arange(n) * 1e6 / 30).astype(np.int64) if ts is None else ts
    return RawRecording(positions=pos, schema=KINECT_V2, file=FILE, timestamps_us=ts, **kw)


def rejects(r: RawRecording, code: str, match: str, limits: Limits = V.DEFAULT_LIMITS) -> ValidationError:
    with pytest.raises(ValidationError, match=match) as exc:
        validate_recording(r, limits)
    assert exc.value.code == code
    assert f"file {FILE}" in str(exc.value)
    return exc.value


def test_clean_recording_passes_unchanged() -> None:
    r = raw()
    c = validate_recording(r)
    assert c.repairs == [] and c.warnings == []
    np.testing.assert_allclose(c.positions, r.positions, atol=1e-3)
    assert (c.confidence == Confidence.MEDIUM).all() and not c.repaired.any()


# --- errors --------------------------------------------------------------------------------------
def test_empty() -> None:
    r = raw()
    r.positions = r.positions[:0]
    r.timestamps_us = r.timestamps_us[:0]
    rejects(r, "empty", "no frames")


def test_empty_file(tmp_path) -> None:
    p = tmp_path / "e.txt"
    p.write_bytes(b"")
    with pytest.raises(ValidationError, match="empty file") as exc:
        check_file(p)
    assert exc.value.code == "empty" and str(p) in str(exc.value)


def test_wrong_joint_count() -> None:
    r = raw()
    r.positions = r.positions[:, :24]
    rejects(r, "joint_count", "24 joints, the kinect_v2_25 schema has 25")


def test_nan_beyond_repair_names_frame_and_joint() -> None:
    r = raw()
    r.positions[30:60, 13] = np.nan  # KneeLeft missing in a third of the frames ...
    r.positions[30:60, 5] = np.nan
    r.positions[30:60] = np.nan  # ... in fact whole frames 30-59 are NaN: > 20 % corrupt
    e = rejects(r, "non_finite", "corrupt")
    assert e.frame == 30 and e.joint == "SpineBase"
    assert "frame 30" in str(e) and "joint SpineBase" in str(e)


def test_inf_and_absurd_coordinates() -> None:
    r = raw()
    r.positions[10:40, 7, 1] = 1e267 * 1000  # absurd (inf after the metre->mm product, or just huge)
    e = rejects(r, "absurd_coordinates", "beyond 10 m")
    assert e.frame == 10 and e.joint == KINECT_V2.joints[7]
    r = raw()
    r.positions[20:50, 3, 0] = 12_000.0  # 12 m
    e = rejects(r, "absurd_coordinates", "corrupt")
    assert e.frame == 20 and e.joint == "Head"


def test_wrong_units_metres_given_as_mm() -> None:
    r = raw()
    r.positions = r.positions / 1000.0
    rejects(r, "wrong_units", "look like metres")


def test_wrong_units_mm_given_as_metres(tmp_path) -> None:
    w = walk(90)
    p = write_kinect_v2(tmp_path / "s" / "mm.txt", w, v2_override=v2_from_azure(w))  # mm written as "metres"
    with pytest.raises(ValidationError, match="wrong units") as exc:
        read_recording(p, "kinect-v2")
    assert exc.value.code == "wrong_units"


def test_non_monotonic_timestamps() -> None:
    ts = np.rint(np.arange(90) * 1e6 / 30).astype(np.int64)
    ts[40:50] = ts[40:50][::-1]  # ten frames in reverse order
    e = rejects(raw(ts=ts), "non_monotonic_timestamps", "go back in time")
    assert e.frame == 41  # first frame earlier than one before it


def test_duplicated_timestamps_beyond_repair() -> None:
    ts = np.repeat(np.rint(np.arange(30) * 1e6 / 10).astype(np.int64), 3)  # two thirds repeat
    rejects(raw(ts=ts), "duplicate_timestamps", "repeat the previous timestamp")


def test_too_short() -> None:
    rejects(raw(45), "too_short", r"1\.50 s of usable frames")


def test_too_long_configurable() -> None:
    rejects(raw(90), "too_large", "too large", Limits(max_duration_s=2.5))
    validate_recording(raw(90), Limits(max_duration_s=10))


def test_too_large_file(tmp_path) -> None:
    p = tmp_path / "big.txt"
    p.write_bytes(b"x" * 2000)
    with pytest.raises(ValidationError, match="too large") as exc:
        check_file(p, Limits(max_file_bytes=1000))
    assert exc.value.code == "too_large"


def test_tracking_jumps_beyond_repair() -> None:
    r = raw()
    r.positions[1::2, :, 0] += 2000.0  # every other frame 2 m to the side: two people interleaved
    rejects(r, "tracking_jumps", "jump away and back")


def test_all_joints_never_valid() -> None:
    r = raw()
    r.positions[:] = np.nan
    rejects(r, "non_finite", "no joint has a valid value")


# --- repairs -------------------------------------------------------------------------------------
def test_few_nan_frames_interpolated() -> None:
    r = raw()
    truth = r.positions.copy()
    r.positions[40:43] = np.nan
    c = validate_recording(r)
    assert any("3 corrupt interior frame(s) (40-42)" in x for x in c.repairs)
    np.testing.assert_allclose(c.positions[40:43], truth[40:43], atol=60)  # linear through a smooth walk
    assert (c.confidence[40:43] == Confidence.LOW).all()
    assert c.repaired[40:43].all() and not c.repaired[:40].any()


def test_single_joint_nan_gap_interpolated_or_masked() -> None:
    r = raw()
    r.positions[20:23, 15] = np.nan  # FootLeft: 3 frames -> interpolated
    r.positions[50:70, 19] = np.nan  # FootRight: 20 frames -> masked
    c = validate_recording(r)
    assert (c.confidence[20:23, 15] == Confidence.LOW).all()
    assert (c.confidence[50:70, 19] == Confidence.NONE).all() and (c.positions[50:70, 19] == 0).all()
    assert any("FootRight (50-69)" in x for x in c.repairs)


def test_trailing_garbage_frames_trimmed() -> None:
    r = raw(100)
    r.positions[95:] = 6.9e-310  # uninitialised memory, as in real Kinect v2 exports
    r.positions[97, 4, 0] = np.nan
    c = validate_recording(r)
    assert c.positions.shape[0] == 95
    assert any("trimmed 5 corrupt trailing frame(s) (95-99)" in x and "uninitialised" in x for x in c.repairs)


def test_leading_garbage_frame_trimmed() -> None:
    r = raw(100)
    r.positions[0, 2, 2] = np.inf
    c = validate_recording(r)
    assert c.positions.shape[0] == 99 and c.source_frames[0] == 1
    assert any("trimmed 1 corrupt leading frame(s) (0): inf" in x for x in c.repairs)


def test_joint_jump_repaired() -> None:
    r = raw()
    truth = r.positions.copy()
    r.positions[30, 3, 0] += 800.0  # Head jumps 0.8 m for one frame
    c = validate_recording(r)
    assert any("joint jump" in x and "Head frame 30" in x for x in c.repairs)
    np.testing.assert_allclose(c.positions[30, 3], truth[30, 3], atol=10)
    assert c.confidence[30, 3] == Confidence.LOW


def test_duplicated_timestamp_dropped() -> None:
    ts = np.rint(np.arange(90) * 1e6 / 30).astype(np.int64)
    ts[51] = ts[50]
    c = validate_recording(raw(ts=ts))
    assert c.positions.shape[0] == 89 and 51 not in c.source_frames
    assert any("duplicated timestamp (51)" in x for x in c.repairs)
    assert (np.diff(c.timestamps_us) > 0).all()


def test_out_of_order_frame_dropped() -> None:
    ts = np.rint(np.arange(90) * 1e6 / 30).astype(np.int64)
    ts[60] = ts[20]
    c = validate_recording(raw(ts=ts))
    assert 60 not in c.source_frames and any("out-of-order" in x for x in c.repairs)


def test_isolated_leading_frame_dropped() -> None:
    ts = np.rint(np.arange(90) * 1e6 / 30).astype(np.int64)
    ts[1:] += 4_000_000  # frame 0 sits 4 s before the others
    c = validate_recording(raw(ts=ts))
    assert c.positions.shape[0] == 89 and any("isolated leading frame" in x for x in c.repairs)


def test_joint_absent_everywhere_is_a_warning_not_a_repair() -> None:
    r = raw()
    r.positions[:, 24] = np.nan  # ThumbRight never tracked
    c = validate_recording(r)
    assert c.repairs == [] and any("ThumbRight has no valid value" in w for w in c.warnings)
    assert (c.confidence[:, 24] == Confidence.NONE).all()


def test_repaired_file_reports_status(tmp_path) -> None:
    w = walk(100)
    v2 = v2_from_azure(w) / 1000
    v2[97:] = np.nan
    res = read_recording(write_kinect_v2(tmp_path / "s" / "r.txt", w, v2_override=v2), "kinect-v2")
    assert res.status == "repaired" and res.session.n_frames == 97
    assert res.session.metadata["import"]["repairs"] == res.repairs


def test_thresholds_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "validation.md").read_text()
    for name in ("ABSURD_COORDINATE_MM", "MAX_INTERPOLATE_FRAMES", "MAX_CORRUPT_FRAME_FRACTION",
                 "MAX_DUPLICATE_FRACTION", "MAX_OUT_OF_ORDER_FRAMES", "MAX_JOINT_SPEED_MM_S", "MIN_USABLE_SECONDS",
                 "MAX_JUMP_FRACTION", "EDGE_GAP_SECONDS", "SUBNORMAL_MM", "MAX_MISSING_FRACTION"):
        assert name in doc, name
        assert hasattr(V, name)


def test_gzip_bomb_limited(tmp_path) -> None:
    import gzip

    p = tmp_path / "s" / "bomb.txt.gz"
    p.parent.mkdir()
    p.write_bytes(gzip.compress(b"0" * 200_000))
    with pytest.raises(ValidationError, match="decompressed content above the limit") as exc:
        read_recording(p, "kinect-v2", limits=Limits(max_file_bytes=50_000))
    assert exc.value.code == "too_large" and str(p) in str(exc.value)
