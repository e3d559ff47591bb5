"""The root parent acts on nothing that shared memory says (issue 12,
item 1).

Any process of httpd's User can write the scoreboard. tamper_board.py
writes what such a process could (the PM's pid as a bystander's pid or as
-1, class geometry out of range, a victim file as every socket path),
then restarts httpd gracefully and stops it. It runs in a PID namespace of
its own, so that a regression (root signalling -1) cannot reach anything
outside it.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare(1) for a PID namespace")


def run_tamper(workdir, mode):
    p = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
         sys.executable, str(HERE / "tamper_board.py"), str(workdir), mode],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180)
    out = p.stdout.decode("utf-8", "replace").strip().splitlines()
    assert p.returncode == 0 and out, (p.returncode, p.stderr.decode())
    return json.loads(out[-1])


@pytest.mark.parametrize("mode", ["bystander", "all"])
def test_corrupt_board_steers_nothing(workdir, mode):
    seen = run_tamper(workdir, mode)
    assert seen["served_at_start"], seen
    # the signal the parent sends at a graceful restart and at the stop
    # goes to its own PM, never to the pid (or -1) written on the board
    assert seen["bystander_alive_after_graceful"], seen
    assert seen["httpd_alive_after_graceful"], seen
    assert seen["bystander_alive_after_stop"], seen
    assert seen["rc_at_stop"] == 0, seen
    # the PM neither crashed on the out-of-range geometry nor unlinked the
    # path written on the board; it put its own geometry back
    assert seen["victim_kept"], seen
    assert not seen["crash_logged"], seen["crash_lines"]
    assert seen["geometry_restored"] and seen["restored_logged"], seen
    assert seen["served_after_graceful"], seen
    assert seen["served_after_tamper"], seen
