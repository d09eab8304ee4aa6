# SPDX-License-Identifier: Apache-2.0
"""Under `make sanitize` (LOSSES_EXT_EXPECT_SANITIZED=1): the extension being tested really is
the AddressSanitizer / UndefinedBehaviorSanitizer build."""

import os
import subprocess

import pytest

import losses_ext


@pytest.mark.skipif(
    os.environ.get("LOSSES_EXT_EXPECT_SANITIZED") != "1", reason="only under make sanitize"
)
def test_sanitized_extension_is_loaded():
    library = losses_ext._ops._C.__file__
    assert "build-asan" in library, library
    symbols = subprocess.run(["nm", "-D", library], capture_output=True, text=True).stdout
    assert "__asan_" in symbols and "__ubsan_" in symbols
