"""`gaitfm import` end to end on folders the test writes."""

from __future__ import annotations

import re

import numpy as np

from gaitcore.cli import main
from gaitcore.schemas import AZURE32
from gaitcore.sessionfile import read_session

from .fixtures_import import v2_from_azure, walk, write_csv, write_kinect_v2


def _folder(root):
    w = walk(90)
    write_kinect_v2(root / "p01" / "walk1.csv.gz", w, gz=True)
    write_kinect_v2(root / "p02" / "deep" / "walk1.txt", walk(90, seed=4))  # same stem, other folder
    bad = v2_from_azure(w) / 1000
    bad[87:] = 6.9e-310  # trailing uninitialised frames
    write_kinect_v2(root / "p03" / "walk2.txt", w, v2_override=bad)
    (root / "p04").mkdir()
    (root / "p04" / "empty.txt").write_bytes(b"")
    write_kinect_v2(root / "p05" / "short.txt", walk(30))
    (root / "p05" / "README.md").write_text("not picked up")


def test_import_folder_reports_each_file(tmp_path, capsys) -> None:
    _folder(tmp_path / "in")
    out = tmp_path / "out"
    rc = main(["import", "--format", "kinect-v2", "--task", "overground_walk", str(tmp_path / "in"), "-o", str(out)])
    text = capsys.readouterr().out
    assert rc == 0
    assert re.search(r"imported\s+\S+walk1\.csv\.gz -> ", text)
    assert re.search(r"repaired\s+\S+walk2\.txt -> .*trimmed 3 corrupt trailing frame", text)
    assert re.search(r"rejected\s+\S+empty\.txt: \[empty\] empty file", text)
    assert re.search(r"rejected\s+\S+short\.txt: \[too_short\]", text)
    assert "README" not in text
    assert "summary: 2 imported, 1 repaired, 2 rejected of 5 file(s)" in text
    files = sorted(p.name for p in out.iterdir())
    assert files == ["walk1-2.gait.npz", "walk1.gait.npz", "walk2.gait.npz"]  # one per recording, no clobbering
    s = read_session(out / "walk2.gait.npz")
    assert s.subject == "p03" and s.tasks[0].task == "overground_walk" and s.n_frames == 87
    assert s.metadata["import"]["status"] == "repaired"


def test_import_subject_override_and_csv(tmp_path, capsys) -> None:
    write_csv(tmp_path / "in" / "Run1" / "g.csv", walk(70), extra_columns={"HIPD": np.zeros(70)})
    rc = main(["import", "-f", "csv", "--subject", "P-17", str(tmp_path / "in"), "-o", str(tmp_path / "o")])
    text = capsys.readouterr().out
    assert rc == 0 and "note: 1 unknown column(s) ignored: HIPD" in text
    s = read_session(tmp_path / "o" / "g.gait.npz")
    assert s.subject == "P-17" and s.confidence[:, AZURE32.index("HAND_LEFT")].max() == 0


def test_nothing_imported_exits_non_zero(tmp_path, capsys) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_bytes(b"")
    rc = main(["import", "--format", "kinect-v2", str(tmp_path / "in"), str(tmp_path / "missing"),
               "-o", str(tmp_path / "o")])
    text = capsys.readouterr().out
    assert rc != 0
    assert "rejected  " in text and "no such file or folder" in text
    assert "summary: 0 imported, 0 repaired, 2 rejected of 2 file(s)" in text


def test_import_limits_from_the_command_line(tmp_path, capsys) -> None:
    write_kinect_v2(tmp_path / "in" / "s" / "r.txt", walk(90))
    rc = main(["import", "-f", "kinect-v2", "--max-minutes", "0.01", str(tmp_path / "in"), "-o", str(tmp_path / "o")])
    assert rc == 1 and "[too_large]" in capsys.readouterr().out
    rc = main(["import", "-f", "kinect-v2", "--min-seconds", "5", str(tmp_path / "in"), "-o", str(tmp_path / "o")])
    assert rc == 1 and "[too_short]" in capsys.readouterr().out


def test_mkv_without_sdk_said_once(tmp_path, capsys, monkeypatch) -> None:
    from gaitcore.errors import SDKNotInstalledError
    from gaitcore.importers import azure_mkv

    def no_sdk():
        raise SDKNotInstalledError("not installed: Azure Kinect Sensor SDK (k4a) ... Body Tracking SDK")

    monkeypatch.setattr(azure_mkv, "load_sdk", no_sdk)
    for k in range(3):
        (tmp_path / "in" / "s").mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / "s" / f"r{k}.mkv").write_bytes(b"mkv")
    rc = main(["import", "-f", "azure-mkv", str(tmp_path / "in"), "-o", str(tmp_path / "o")])
    text = capsys.readouterr().out
    assert rc == 1 and text.count("Body Tracking SDK") == 1
    assert "summary: 0 imported, 0 repaired, 3 rejected of 3 file(s)" in text and "sdk_not_installed 3" in text


def test_cli_choices_match_the_library() -> None:
    from gaitcore.cli import cmd_import
    from gaitcore.importers import FORMATS
    from gaitcore.schemas import TASKS

    assert cmd_import._FORMATS == FORMATS and cmd_import._TASKS == TASKS
