"""The thread that hands freed memory back to the operating system."""

import allocator


def test_malloc_trim_found_on_glibc():
    trim = allocator._malloc_trim()
    assert trim is not None  # the test machines run Debian, so glibc
    assert trim(0) in (0, 1)  # 1 when memory was released, else 0


def test_one_trimming_thread_per_server():
    first = allocator.start_trimming()
    assert first is not None
    assert first.is_alive()
    assert first.daemon
    assert allocator.start_trimming() is first
