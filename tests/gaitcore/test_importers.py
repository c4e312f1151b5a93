"""Each importer on small fixtures written by the tests themselves."""

from __future__ import annotations

import ctypes
import gzip
import json

import numpy as np
import pytest

from gaitcore.errors import SDKNotInstalledError, ValidationError
from gaitcore.importers import FORMATS, ImportResult, iter_recordings, read_recording
from gaitcore.schemas import AZURE32, KINECT_V1, KINECT_V2, Confidence

from .fixtures_import import walk, write_azure_json, write_csv, write_kinect_v1, write_kinect_v2


def _check_mapped(res: ImportResult, truth32: np.ndarray, provided: list[int], tol_mm: float = 0.01) -> None:
    s = res.session
    assert s.positions.shape == (truth32.shape[0], 32, 3) and s.positions.dtype == np.float32
    np.testing.assert_allclose(s.positions[:, provided], truth32[:, provided], atol=tol_mm)
    lacking = sorted(set(range(32)) - set(provided))
    assert (s.confidence[:, lacking] == Confidence.NONE).all()
    assert (s.positions[:, lacking] == 0).all()
    assert (s.confidence[:, provided] == Confidence.MEDIUM).all()


def test_formats_listed() -> None:
    assert FORMATS == ("azure-json", "azure-mkv", "kinect-v2", "kinect-v1", "csv")


# --- kinect-v2 -----------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True])
def test_kinect_v2_plain_and_gzip(tmp_path, gz) -> None:
    w = walk(90)
    path = write_kinect_v2(tmp_path / "p07" / ("rec.csv.gz" if gz else "rec.txt"), w, gz=gz)
    res = read_recording(path, "kinect-v2", task="overground_walk")
    assert res.status == "imported" and res.repairs == []
    s = res.session
    assert s.sensor == "kinect_v2" and s.subject == "p07"  # default pseudonym: parent folder
    assert [(t.task, t.start, t.end) for t in s.tasks] == [("overground_walk", 0, 90)]
    _check_mapped(res, w, [a for a in KINECT_V2.to_azure if a is not None], tol_mm=1e-3)
    assert s.positions[0, AZURE32.index("PELVIS")] == pytest.approx(w[0, 0], abs=1e-3)  # SpineBase -> PELVIS
    np.testing.assert_allclose(np.diff(s.timestamps_us), 33_333, atol=1_000)
    assert s.metadata["source"]["format"] == "kinect-v2"


def test_kinect_v2_minute_wrap_is_unwrapped(tmp_path) -> None:
    w = walk(90)
    t = (58.5 + np.arange(90) / 30.0) % 60.0  # seconds of the minute
    res = read_recording(write_kinect_v2(tmp_path / "s" / "r.txt", w, t_s=t), "kinect-v2")
    assert res.status == "imported"
    assert np.all(np.diff(res.session.timestamps_us) > 0)
    assert any("wraps at 60 s" in x for x in res.warnings)


def test_kinect_v2_wrong_joint_count(tmp_path) -> None:
    p = tmp_path / "s" / "r.txt"
    p.parent.mkdir()
    line = "\t".join(["1.0"] + [f"{j}.0\t0.1\t0.2\t2.0" for j in range(24)])
    p.write_text("\n".join([line] * 70))
    with pytest.raises(ValidationError, match="wrong joint count: 24 joints") as exc:
        read_recording(p, "kinect-v2")
    assert exc.value.code == "joint_count" and exc.value.frame == 0


def test_kinect_v2_ragged_line_named(tmp_path) -> None:
    p = write_kinect_v2(tmp_path / "s" / "r.txt", walk(80))
    lines = p.read_text().splitlines()
    lines[10] = "\t".join(lines[10].split("\t")[:-8])  # frame 10 lost two joints
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValidationError, match="line 11 has 93 fields") as exc:
        read_recording(p, "kinect-v2")
    assert exc.value.code == "joint_count" and exc.value.frame == 10


def test_kinect_v2_truncated_last_line_repaired(tmp_path) -> None:
    p = write_kinect_v2(tmp_path / "s" / "r.txt", walk(80))
    text = p.read_text()
    p.write_text(text[: len(text) - 300])  # file cut in the middle of the last line
    res = read_recording(p, "kinect-v2")
    assert res.status == "repaired" and res.session.n_frames == 79
    assert "truncated last line" in res.repairs[0]


def test_kinect_v2_not_this_format(tmp_path) -> None:
    p = tmp_path / "s" / "manifest.csv"
    p.parent.mkdir()
    p.write_text("file,subject\na.csv,1\n")
    with pytest.raises(ValidationError) as exc:
        read_recording(p, "kinect-v2")
    assert exc.value.code == "parse_error"


# --- kinect-v1 -----------------------------------------------------------------------------------
@pytest.mark.parametrize("gz, comma", [(False, False), (True, False), (False, True)])
def test_kinect_v1(tmp_path, gz, comma) -> None:
    w = walk(75)
    p = write_kinect_v1(tmp_path / "subjA" / ("k.txt.gz" if gz else "k.txt"), w, gz=gz, decimal_comma=comma)
    res = read_recording(p, "kinect-v1")
    assert res.status == "imported"
    s = res.session
    assert s.sensor == "kinect_v1" and s.subject == "subjA" and s.n_frames == 75
    _check_mapped(res, w, list(KINECT_V1.to_azure), tol_mm=0.001 + 1e-6 * 1000)
    np.testing.assert_array_equal(s.timestamps_us, np.rint(np.arange(75) * 1e6 / 30).astype(np.int64))
    assert s.positions[0, AZURE32.index("PELVIS")] == pytest.approx(w[0, 0], abs=1e-3)  # Hip-centro


def test_kinect_v1_truncated_last_frame_repaired(tmp_path) -> None:
    p = write_kinect_v1(tmp_path / "s" / "k.txt", walk(75), drop_last_lines=7)
    res = read_recording(p, "kinect-v1")
    assert res.status == "repaired" and res.session.n_frames == 74
    assert "truncated last frame" in res.repairs[0]


def test_kinect_v1_frame_missing_a_joint(tmp_path) -> None:
    p = write_kinect_v1(tmp_path / "s" / "k.txt", walk(75), frame_without_joint=12)
    with pytest.raises(ValidationError, match="frame 12 has 19 joint lines") as exc:
        read_recording(p, "kinect-v1")
    assert exc.value.code == "joint_count" and exc.value.frame == 12


def test_kinect_v1_unknown_joint_name(tmp_path) -> None:
    p = write_kinect_v1(tmp_path / "s" / "k.txt", walk(75))
    p.write_text(p.read_text().replace("Elbow-Left;", "Elbo-Lft;"))
    with pytest.raises(ValidationError, match="unknown Kinect v1 joint name"):
        read_recording(p, "kinect-v1")


# --- azure-json ----------------------------------------------------------------------------------
def test_azure_json_single_body(tmp_path) -> None:
    w = walk(80)
    p = write_azure_json(tmp_path / "s9" / "rec.json", {1: (np.arange(80), w)}, 80)
    res = read_recording(p, "azure-json")
    assert res.status == "imported" and res.warnings == []
    s = res.session
    assert s.sensor == "azure_kinect"
    _check_mapped(res, w, list(range(32)), tol_mm=1e-3)
    assert s.metadata["azure_kinect"]["k4abt_sdk_version"] == "1.1.2"
    np.testing.assert_allclose(np.diff(s.timestamps_us), 33_333, atol=1)


def test_azure_json_several_bodies_keeps_longest_nearest_centre(tmp_path) -> None:
    n = 90
    subject = walk(n, seed=1)
    bystander = walk(n, seed=2)
    bystander[:, :, 0] += 1500.0  # 1.5 m to the side
    passerby = walk(n, seed=3)
    p = write_azure_json(
        tmp_path / "s" / "rec.json",
        {
            4: (np.arange(n), bystander),  # whole recording, but far from the centre
            7: (np.arange(n), subject),  # whole recording, centred: the subject
            9: (np.arange(10, 30), passerby[10:30]),  # briefly in view, centred
        },
        n,
    )
    res = read_recording(p, "azure-json")
    np.testing.assert_allclose(res.session.positions, subject, atol=1e-3)
    assert res.session.metadata["azure_kinect"]["body_id"] == 7
    assert any("3 bodies in view" in w and "kept body 7" in w for w in res.warnings)


def test_azure_json_body_absent_frames_dropped(tmp_path) -> None:
    w = walk(90)
    idx = np.r_[0:40, 45:90]
    p = write_azure_json(tmp_path / "s" / "rec.json", {1: (idx, w[idx])}, 90)
    res = read_recording(p, "azure-json")
    assert res.session.n_frames == 85
    assert any("absent from 5 of 90 frames" in x for x in res.warnings)


def test_azure_json_wrong_joint_count(tmp_path) -> None:
    p = write_azure_json(tmp_path / "s" / "rec.json", {1: (np.arange(70), walk(70))}, 70, joint_count=26)
    with pytest.raises(ValidationError, match="26 joint positions") as exc:
        read_recording(p, "azure-json")
    assert exc.value.code == "joint_count" and exc.value.frame == 0


def test_azure_json_no_bodies_and_bad_json(tmp_path) -> None:
    p = write_azure_json(tmp_path / "s" / "rec.json", {}, 70)
    with pytest.raises(ValidationError, match="no body was tracked") as exc:
        read_recording(p, "azure-json")
    assert exc.value.code == "empty"
    p.write_text("{not json")
    with pytest.raises(ValidationError, match="not valid JSON"):
        read_recording(p, "azure-json")


# --- azure-mkv -----------------------------------------------------------------------------------
def _sdk_present() -> bool:
    try:
        ctypes.CDLL("/usr/lib/x86_64-linux-gnu/libk4a.so")
        ctypes.CDLL("libk4abt.so")
        return True
    except OSError:
        return False


@pytest.mark.skipif(_sdk_present(), reason="the Azure Kinect SDK is installed here")
def test_azure_mkv_without_sdk_names_the_sdks(tmp_path) -> None:
    pytest.importorskip("pykinect_azure")
    p = tmp_path / "s" / "rec.mkv"
    p.parent.mkdir()
    p.write_bytes(b"\x1a\x45\xdf\xa3not really matroska")
    with pytest.raises(SDKNotInstalledError) as exc:
        read_recording(p, "azure-mkv")
    msg = str(exc.value)
    assert "Azure Kinect Sensor SDK" in msg and "Body Tracking SDK" in msg and "azure-json" in msg


def _ctypes_body(body_id: int, pos_mm: np.ndarray, conf: np.ndarray):
    """A pykinect_azure Body built from the SDK's ctypes structs (as the tracker would fill them)."""
    from pykinect_azure import Body
    from pykinect_azure.k4abt._k4abtTypes import k4abt_body_t

    handle = k4abt_body_t()
    handle.id = body_id
    for j in range(32):
        joint = handle.skeleton.joints[j]
        joint.position.xyz.x, joint.position.xyz.y, joint.position.xyz.z = (float(v) for v in pos_mm[j])
        joint.orientation.wxyz.w = 1.0
        joint.confidence_level = int(conf[j])
    return Body(handle)


def test_azure_mkv_body_from_ctypes_structs(tmp_path, monkeypatch) -> None:
    pytest.importorskip("pykinect_azure")
    from gaitcore.importers import azure_mkv

    n = 80
    w = walk(n).astype(np.float32)
    conf = np.full((n, 32), 2, np.uint8)
    conf[:, AZURE32.index("HANDTIP_LEFT")] = 1  # occluded: LOW
    conf[:, AZURE32.index("EAR_RIGHT")] = 0  # out of range the whole time: NONE
    bid, arr = azure_mkv.body_to_array(_ctypes_body(3, w[0], conf[0]))
    assert bid == 3 and arr.shape == (32, 8)
    np.testing.assert_allclose(arr[:, :3], w[0], atol=1e-3)
    np.testing.assert_array_equal(arr[:, 7], conf[0])

    def fake_frames(path):  # the narrowest seam: what playback + tracker yield per capture
        for f in range(n):
            yield 5_000_000 + f * 33_333, [azure_mkv.body_to_array(_ctypes_body(3, w[f], conf[f]))]

    monkeypatch.setattr(azure_mkv, "iter_body_frames", fake_frames)
    p = tmp_path / "s1" / "rec.mkv"
    p.parent.mkdir()
    p.write_bytes(b"mkv")
    res = read_recording(p, "azure-mkv")
    s = res.session
    assert s.sensor == "azure_kinect" and s.n_frames == n and s.subject == "s1"
    assert (s.confidence[:, AZURE32.index("HANDTIP_LEFT")] == Confidence.LOW).all()
    assert (s.confidence[:, AZURE32.index("EAR_RIGHT")] == Confidence.NONE).all()
    np.testing.assert_allclose(s.positions[:, 0], w[:, 0], atol=1e-3)
    assert any("EAR_RIGHT has no valid value" in x for x in res.warnings)


# --- csv -----------------------------------------------------------------------------------------
UCAL18 = [AZURE32.index(j) for j in (
    "FOOT_LEFT", "ANKLE_LEFT", "KNEE_LEFT", "HIP_LEFT", "FOOT_RIGHT", "ANKLE_RIGHT", "KNEE_RIGHT", "HIP_RIGHT",
    "PELVIS", "SPINE_NAVEL", "NECK", "HEAD", "SHOULDER_LEFT", "SHOULDER_RIGHT", "WRIST_LEFT", "WRIST_RIGHT",
    "ELBOW_LEFT", "ELBOW_RIGHT")]  # fmt: skip


@pytest.mark.parametrize("style", ["spaced", "snake", "dotted"])
def test_csv_header_styles(tmp_path, style) -> None:
    w = walk(70)
    extra = {"SholdD": np.ones(70), "HipDX": np.zeros(70)}
    p = write_csv(tmp_path / "Run1" / "g.csv", w, style=style, extra_columns=extra)
    res = read_recording(p, "csv", subject="P-001")
    assert res.status == "imported"
    assert res.session.subject == "P-001" and res.session.sensor == "csv"
    _check_mapped(res, w, UCAL18, tol_mm=0.001)
    unknown = [x for x in res.warnings if "unknown column" in x]
    assert unknown and "SholdD" in unknown[0] and "HipDX" in unknown[0]  # listed, not silently dropped
    assert any("metres" in x for x in res.warnings)


def test_csv_millimetres_and_time_column(tmp_path) -> None:
    w = walk(70)
    t_ms = 1000.0 + np.arange(70) * 40.0  # 25 Hz
    p = write_csv(tmp_path / "s" / "g.csv", w, style="snake", metres=False, time_ms=t_ms)
    res = read_recording(p, "csv")
    _check_mapped(res, w, UCAL18, tol_mm=1e-5 * 1000)
    np.testing.assert_array_equal(np.diff(res.session.timestamps_us), 40_000)
    assert any("millimetres" in x for x in res.warnings)


def test_csv_synonyms_and_separators(tmp_path) -> None:
    from gaitcore.importers.names import match_joint

    for name, joint in [("Foot Left", "FOOT_LEFT"), ("foot_left", "FOOT_LEFT"), ("SpineBase", "PELVIS"),
                        ("LFoot", "FOOT_LEFT"), ("ShouldL", "SHOULDER_LEFT"), ("Hip-centro", "PELVIS"),
                        ("Shoulder-Center", "SPINE_CHEST"), ("HANDTIP_RIGHT", "HANDTIP_RIGHT"),
                        ("left knee", "KNEE_LEFT"), ("Neck", "NECK")]:
        assert match_joint(name) == AZURE32.index(joint), name
    assert match_joint("HIPD") is None and match_joint("Left Knee Angle") is None


def test_csv_without_joint_columns_rejected(tmp_path) -> None:
    p = tmp_path / "s" / "angles.csv"
    p.parent.mkdir()
    p.write_text("Left Knee Angle, Right Knee Angle\n168,144\n170,150\n")
    with pytest.raises(ValidationError, match="no joint coordinate columns") as exc:
        read_recording(p, "csv")
    assert exc.value.code == "not_skeleton"


def test_csv_empty_and_header_only(tmp_path) -> None:
    p = tmp_path / "s" / "empty.csv"
    p.parent.mkdir()
    p.write_bytes(b"")
    with pytest.raises(ValidationError, match="empty file") as exc:
        read_recording(p, "csv")
    assert exc.value.code == "empty"
    p.write_text("Foot Left X, Y, Z\n")
    with pytest.raises(ValidationError, match="no data rows") as exc:
        read_recording(p, "csv")
    assert exc.value.code == "empty"


def test_gzip_empty_inside(tmp_path) -> None:
    p = tmp_path / "s" / "e.csv.gz"
    p.parent.mkdir()
    p.write_bytes(gzip.compress(b""))
    with pytest.raises(ValidationError, match="empty") as exc:
        read_recording(p, "kinect-v2")
    assert exc.value.code == "empty"


# --- registry ------------------------------------------------------------------------------------
def test_iter_recordings_recursive_and_filtered(tmp_path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/x.csv", "a/b/y.csv.gz", "a/b/z.json", "a/.hidden.csv", "a/b/out.gait.npz", "a/notes.md"):
        (tmp_path / name).write_text("")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_recordings([tmp_path], "csv")]
    assert found == ["a/b/y.csv.gz", "a/x.csv"]
    assert [p.name for p in iter_recordings([tmp_path / "a" / "notes.md"], "csv")] == ["notes.md"]
    assert [p.name for p in iter_recordings([tmp_path], "azure-json")] == ["z.json"]


def test_unknown_format_and_missing_file(tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown format"):
        read_recording(tmp_path / "x", "kinect-v3")
    with pytest.raises(ValidationError, match="no such file"):
        read_recording(tmp_path / "x.csv", "csv")


def test_session_metadata_is_json(tmp_path) -> None:
    p = write_kinect_v2(tmp_path / "s" / "r.txt", walk(80))
    meta = read_recording(p, "kinect-v2").session.metadata
    json.dumps(meta)
    assert meta["import"]["status"] == "imported" and len(meta["import"]["repaired_per_joint"]) == 32


def test_azure_json_fast_and_plain_paths_agree(tmp_path, monkeypatch) -> None:
    from gaitcore.importers import azure_json

    w = walk(80)
    p = write_azure_json(tmp_path / "s" / "rec.json", {2: (np.arange(80), w), 5: (np.arange(40), w[:40] + 900)}, 80)
    doc = json.loads(p.read_text())
    doc["frames"][10]["bodies"][0]["joint_positions"][4] = [None, None, None]  # nlohmann writes NaN as null
    p.write_text(json.dumps(doc, indent=1))
    assert azure_json._fast_load(p.read_bytes()) is not None
    fast = read_recording(p, "azure-json")
    monkeypatch.setattr(azure_json, "_fast_load", lambda data: None)
    plain = read_recording(p, "azure-json")
    np.testing.assert_array_equal(fast.session.positions, plain.session.positions)
    np.testing.assert_array_equal(fast.session.confidence, plain.session.confidence)
    assert fast.repairs == plain.repairs and fast.warnings == plain.warnings
    assert fast.session.confidence[10, 4] == Confidence.LOW  # the null joint was interpolated


def test_damaged_inputs_never_crash(tmp_path) -> None:
    """Truncated, bit-flipped, spliced and shuffled files: imported, repaired or ValidationError only."""
    import random

    w = walk(90)
    sources = {
        "kinect-v2": write_kinect_v2(tmp_path / "src" / "v2.txt", w).read_bytes(),
        "kinect-v1": write_kinect_v1(tmp_path / "src" / "v1.txt", w).read_bytes(),
        "csv": write_csv(tmp_path / "src" / "c.csv", w).read_bytes(),
        "azure-json": write_azure_json(tmp_path / "src" / "j.json", {1: (np.arange(90), w)}, 90).read_bytes(),
    }
    rng = random.Random(7)
    for i in range(240):
        fmt = rng.choice(sorted(sources))
        data = bytearray(sources[fmt])
        op = i % 5
        if op == 0:
            data = data[: rng.randrange(len(data))]
        elif op == 1:
            for _ in range(rng.randrange(1, 20)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif op == 2:
            k = rng.randrange(len(data))
            data[k:k] = rng.choice([b"nan", b"inf", b"1e300", b"\t", b"\n", b",", b";", b"[", b"null"])
        elif op == 3:
            data = gzip.compress(bytes(data))[: rng.randrange(1, 300)]
        else:
            lines = bytes(data).split(b"\n")
            rng.shuffle(lines)
            data = bytearray(b"\n".join(lines))
        p = tmp_path / "in" / f"x{i}"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(bytes(data))
        try:
            res = read_recording(p, fmt)
        except ValidationError as exc:
            assert exc.code and str(p) in str(exc)
        else:
            assert res.status in ("imported", "repaired")


def test_kinect_v2_header_line_skipped(tmp_path) -> None:
    p = write_kinect_v2(tmp_path / "s" / "r.txt", walk(80))
    p.write_text("time_s\tjoints...\n" + p.read_text())
    res = read_recording(p, "kinect-v2")
    assert res.session.n_frames == 80 and any("skipped a header line" in w for w in res.warnings)


def test_csv_semicolon_with_decimal_comma(tmp_path) -> None:
    w = walk(70)
    p = write_csv(tmp_path / "s" / "g.csv", w, style="snake")
    lines = p.read_text().splitlines()
    p.write_text("\n".join([lines[0].replace(",", ";")] + [ln.replace(",", ";").replace(".", ",") for ln in lines[1:]]))
    res = read_recording(p, "csv")
    _check_mapped(res, w, UCAL18, tol_mm=0.001)
