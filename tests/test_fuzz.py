# SPDX-License-Identifier: Apache-2.0
"""Bad input never crashes the process: tests/fuzz_bad_input.py in a subprocess."""

import os
import subprocess
import sys


def test_fuzz_bad_input_only_raises_clear_python_exceptions():
    here = os.path.dirname(__file__)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(here), here]))
    proc = subprocess.run(
        [sys.executable, os.path.join(here, "fuzz_bad_input.py"), "1500"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
    assert "fuzz: 1500 calls" in proc.stdout
