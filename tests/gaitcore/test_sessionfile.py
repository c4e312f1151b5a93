"""Session file format v1: round trip (property test), determinism, version and corruption refusal."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gaitcore.errors import SessionFormatError
from gaitcore.schemas import TASKS
from gaitcore.sessionfile import (
    FORMAT_VERSION,
    SENSORS,
    SUFFIX,
    Session,
    TaskSegment,
    _canonical,
    _checksum,
    from_bytes,
    read_session,
    to_bytes,
    write_session,
)

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=8), kids, max_size=4)),
    max_leaves=10,
)


@st.composite
def sessions(draw) -> Session:
    t = draw(st.integers(min_value=1, max_value=12))
    positions = draw(hnp.arrays(np.float32, (t, 32, 3), elements=st.floats(-10_000, 10_000, width=32)))
    confidence = draw(hnp.arrays(np.uint8, (t, 32), elements=st.integers(0, 3)))
    steps = draw(hnp.arrays(np.int64, (t,), elements=st.integers(1, 100_000)))
    start = draw(st.integers(-(2**40), 2**40))
    timestamps = start + np.cumsum(steps)
    tasks = []
    for name in draw(st.lists(st.sampled_from(TASKS), max_size=3, unique=True)):
        a = draw(st.integers(0, t - 1))
        b = draw(st.integers(a + 1, t))
        tasks.append(TaskSegment(name, a, b))
    return Session(
        positions=positions,
        confidence=confidence,
        timestamps_us=timestamps,
        subject=draw(st.text(min_size=1, max_size=30)),
        sensor=draw(st.sampled_from(SENSORS)),
        tasks=tasks,
        metadata=draw(st.dictionaries(st.text(max_size=10), json_values, max_size=5)),
        session_id=draw(st.text(alphabet="0123456789abcdef", max_size=32)),
    )


def assert_same(a: Session, b: Session) -> None:
    np.testing.assert_array_equal(a.positions, b.positions)
    assert a.positions.dtype == np.float32 and b.positions.dtype == np.float32
    np.testing.assert_array_equal(a.confidence, b.confidence)
    np.testing.assert_array_equal(a.timestamps_us, b.timestamps_us)
    assert (a.subject, a.sensor, a.tasks, a.metadata, a.session_id) == (
        b.subject, b.sensor, b.tasks, b.metadata, b.session_id
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sessions())
def test_round_trip_property(session: Session) -> None:
    data = to_bytes(session)
    back = from_bytes(data)
    assert_same(session, back)
    assert to_bytes(back) == data  # deterministic: same session, same bytes


def test_write_and_read_file(tmp_path) -> None:
    s = Session(np.zeros((3, 32, 3)), np.full((3, 32), 2), [0, 33_333, 66_666], "s01", "kinect_v2",
                [TaskSegment("overground_walk", 0, 3)], {"a": 1}, "abc")
    path = write_session(s, tmp_path / "x")
    assert path.name == "x" + SUFFIX
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]  # no temporary left behind
    assert_same(s, read_session(path))


def _rewrite_header(data: bytes, change) -> bytes:
    """Re-pack a session file with a modified header (checksum recomputed, so only ``change`` differs)."""
    zin = zipfile.ZipFile(io.BytesIO(data))
    members = {n: np.lib.format.read_array(io.BytesIO(zin.read(n))) for n in zin.namelist()}
    header = json.loads(members["header.npy"].tobytes())
    change(header)
    header["checksum"] = _checksum(members["positions.npy"], members["confidence.npy"],
                                   members["timestamps_us.npy"], header)
    members["header.npy"] = np.frombuffer(_canonical(header), np.uint8)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zout:
        for n, arr in members.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr)
            zout.writestr(n, buf.getvalue())
    return out.getvalue()


def _small() -> bytes:
    return to_bytes(Session(np.ones((2, 32, 3)), np.full((2, 32), 2), [0, 1], "s", "csv"))


def test_newer_version_refused_with_message() -> None:
    data = _rewrite_header(_small(), lambda h: h.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(SessionFormatError, match=r"version 2 is newer .*upgrade"):
        from_bytes(data)


def test_checksum_mismatch_refused() -> None:
    data = _small()
    zin = zipfile.ZipFile(io.BytesIO(data))
    members = {n: zin.read(n) for n in zin.namelist()}
    pos = np.lib.format.read_array(io.BytesIO(members["positions.npy"]))
    pos[0, 0, 0] = 42.0  # tamper with the content, keep the old checksum
    buf = io.BytesIO()
    np.lib.format.write_array(buf, pos)
    members["positions.npy"] = buf.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zout:
        for n, b in members.items():
            zout.writestr(n, b)
    with pytest.raises(SessionFormatError, match="checksum mismatch"):
        from_bytes(out.getvalue())


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "not a session file"),
        (b"hello, I am a CSV", "not a session file"),
    ],
)
def test_garbage_refused(data: bytes, message: str) -> None:
    with pytest.raises(SessionFormatError, match=message):
        from_bytes(data)


def test_truncated_and_bitflipped_files_refused() -> None:
    data = _small()
    with pytest.raises(SessionFormatError):
        from_bytes(data[: len(data) // 2])
    flipped = bytearray(data)
    flipped[len(flipped) // 3] ^= 0xFF
    with pytest.raises(SessionFormatError):
        from_bytes(bytes(flipped))


def test_missing_member_and_foreign_format_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("positions.npy", b"")
    with pytest.raises(SessionFormatError, match="missing"):
        from_bytes(out.getvalue())
    with pytest.raises(SessionFormatError, match="not a session file"):
        from_bytes(_rewrite_header(_small(), lambda h: h.update(format="something-else")))


def test_pickled_arrays_are_never_loaded() -> None:
    """An object array (which needs pickle) in a member is refused, not executed."""
    data = _small()
    zin = zipfile.ZipFile(io.BytesIO(data))
    members = {n: zin.read(n) for n in zin.namelist()}
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    members["timestamps_us.npy"] = buf.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zout:
        for n, b in members.items():
            zout.writestr(n, b)
    with pytest.raises(SessionFormatError, match="corrupt"):
        from_bytes(out.getvalue())


def test_read_missing_file(tmp_path) -> None:
    with pytest.raises(SessionFormatError, match="cannot read"):
        read_session(tmp_path / "nope.gait.npz")


# --- limits read from the archive's headers, and values no recording can have --------------------------
def test_zip_bomb_refused_from_the_headers_without_inflating() -> None:
    """~0.6 MB that would inflate to 565 MiB: refused from ZipInfo.file_size and the .npy header."""
    import resource

    from tests.platform.sessionfiles import zip_bomb_bytes

    bomb = zip_bomb_bytes()
    assert len(bomb) < 1_000_000
    assert sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(bomb)).infolist()) > 512 * 2**20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(SessionFormatError, match="1,398,101 frames") as exc:
        from_bytes(bomb, name="bomb.gait.npz")
    assert exc.value.code == "too_large"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024  # KiB: nothing inflated


def test_declared_size_must_match_the_array_header() -> None:
    """A member whose central directory promises fewer bytes than its array needs is corrupt."""
    data = bytearray(_small())
    zf = zipfile.ZipFile(io.BytesIO(bytes(data)))
    info = zf.getinfo("positions.npy")
    start = data.find(b"PK\x01\x02")  # the central directory entry of positions.npy: patch its size
    while data[start + 46:start + 46 + len(b"positions.npy")] != b"positions.npy":
        start = data.find(b"PK\x01\x02", start + 4)
    data[start + 24:start + 28] = (info.file_size + 4096).to_bytes(4, "little")
    with pytest.raises(SessionFormatError, match="declares"):
        from_bytes(bytes(data))


def test_frame_limit_is_a_parameter() -> None:
    with pytest.raises(SessionFormatError, match="the limit is 1 frames") as exc:
        from_bytes(_small(), max_frames=1)
    assert exc.value.code == "too_large"


@pytest.mark.parametrize("case, code, words", [
    ("nan", "non_finite", "non-finite coordinate (nan) at frame 40"),
    ("inf", "non_finite", "non-finite coordinate (inf) at frame 40"),
    ("huge", "absurd_coordinates", "coordinate 1e+30 mm at frame 40"),
    ("decreasing", "non_monotonic_timestamps", "timestamps must strictly increase; frame 40"),
])
def test_impossible_values_refused(case: str, code: str, words: str) -> None:
    from tests.platform.sessionfiles import bad_session_file_bytes

    with pytest.raises(SessionFormatError) as exc:
        from_bytes(bad_session_file_bytes(case), name="bad.gait.npz")
    assert exc.value.code == code
    assert words in str(exc.value)
