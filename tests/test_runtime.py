"""valstudy.runtime: the allocator setting training applies."""
import sys

import pytest

from valstudy import runtime


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux's")
def test_keep_freed_memory_is_accepted_by_glibc_and_applied_once():
    # mallopt returns 0 for a value it rejects (an mmap threshold above its maximum, say): all three must be taken
    assert runtime.keep_freed_memory() is True
    assert runtime.keep_freed_memory() is True and len(runtime._applied) == 1
