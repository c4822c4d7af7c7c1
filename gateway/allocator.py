"""glibc malloc settings for a server that answers large byte strings over and over.

Every `tools/list` answer is about 75 KB, and a cached `search_docs` or a followed `list_*` can be larger.
Python takes blocks that size straight from malloc. With glibc's defaults, freeing such blocks leaves more
than 128 KB free at the top of the heap, which glibc hands back to the kernel (trims) at once; the next
request grows the heap again and every fresh page is a page fault: several per `tools/list` request, a
sizeable share of its CPU (the figures are in docs/performance-history.md, "Where the time goes"), for memory
that is needed again a millisecond later.

So `serve` raises the thresholds once at start-up: blocks up to MMAP_THRESHOLD come from the heap
(not a fresh mmap each time), and up to TRIM_THRESHOLD of free heap top is kept for reuse. The cost is
bounded: at most TRIM_THRESHOLD of memory the process no longer uses stays mapped. glibc picks similar
values itself after the first large mmap is freed (its dynamic threshold), but setting them is the only way
to stop the trimming, and the dynamic adjustment ends once any of these is set, so both are set here.

Other C libraries (musl, macOS) have no mallopt; there this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform

log = logging.getLogger("gateway.allocator")

# mallopt parameter numbers from glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 4 * 1024 * 1024
TRIM_THRESHOLD = 16 * 1024 * 1024


def keep_freed_memory(mmap_threshold: int = MMAP_THRESHOLD, trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Apply the thresholds above to this process's glibc malloc; False where there is no glibc."""
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success and 0 for a value it refuses.
    applied = mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1 and mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1
    if not applied:
        log.warning("glibc refused the malloc thresholds; large answers will page-fault on every request")
    return applied
