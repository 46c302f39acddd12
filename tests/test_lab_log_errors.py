"""The lab's ERROR digest (``python -m stackproof_lab logs --errors-since``) that a failed tempest run prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackproof_lab.log_errors import errors_since

CINDER = "\n".join(line.replace("<space>", " ") for line in """\
2026-12-05 05:20:00.100 41 ERROR cinder.volume.manager [req-old] Before the run: not printed
2026-12-05 05:22:31.500 41 INFO cinder.volume.manager [req-a] Volume created
2026-12-05 05:22:32.010 41 ERROR cinder.volume.flows.manager.create_volume [req-b] Failed to copy image to volume
2026-12-05 05:22:32.010 41 ERROR cinder.volume.flows.manager.create_volume Traceback (most recent call last):
2026-12-05 05:22:32.010 41 ERROR cinder.volume.flows.manager.create_volume   File "x.py", line 1, in f
2026-12-05 05:22:32.010 41 ERROR cinder.volume.flows.manager.create_volume ImageCopyFailure: qemu-img failed
2026-12-05 05:22:32.010 41 ERROR cinder.volume.flows.manager.create_volume<space>
2026-12-05 05:22:40.000 41 ERROR cinder.volume.manager [req-c] Second failure
""".splitlines()) + "\n"  # an oslo traceback ends with an ERROR line of one space


@pytest.fixture
def logs(tmp_path: Path) -> list[tuple[str, Path]]:
    (tmp_path / "cinder-volume.log").write_text(CINDER)
    return [("cinder-volume", tmp_path / "cinder-volume.log"), ("absent", tmp_path / "never-written.log")]


def test_a_traceback_is_one_record_with_its_headline_and_its_exception(logs):
    found = errors_since(logs, "2026-12-05 05:22:00", per_log=10)
    assert found == [
        "cinder-volume: 2026-12-05 05:22:32 [req-b] Failed to copy image to volume ... "
        "ImageCopyFailure: qemu-img failed",
        "cinder-volume: 2026-12-05 05:22:40 [req-c] Second failure",
    ]


def test_only_the_last_records_of_a_log_are_printed_and_the_rest_is_counted(logs):
    found = errors_since(logs, "2026-12-05 05:00:00", per_log=1)
    assert found == [
        "cinder-volume: (2 earlier ERROR records left out)",
        "cinder-volume: 2026-12-05 05:22:40 [req-c] Second failure",
    ]


def test_a_moment_that_is_not_a_timestamp_is_refused(logs):
    with pytest.raises(ValueError, match="YYYY-MM-DD HH:MM:SS"):
        errors_since(logs, "five minutes ago", per_log=1)
