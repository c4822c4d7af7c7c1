"""gateway.allocator: with the thresholds applied, answering large byte strings stops page-faulting.

Each case runs in a fresh interpreter, so the thresholds are not left set in the test process and every
run starts from glibc's defaults.
"""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")

# What one request does with a 75 KB tools/list page: the answer joined from parts, then the HTTP
# layer's copy of headers and body, both freed when the answer is sent. Prints page faults per request.
PATTERN = """
import resource, sys
from gateway.allocator import keep_freed_memory
if sys.argv[1] == "tuned":
    assert keep_freed_memory()
page = b"x" * 75_000
for _ in range(50):  # warm up: the heap reaches its working size
    answer = b"".join((b"{", page, b"}")); wire = b"".join((b"HTTP/1.1 200 OK\\r\\n\\r\\n", answer)); del answer, wire
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(1000):
    answer = b"".join((b"{", page, b"}")); wire = b"".join((b"HTTP/1.1 200 OK\\r\\n\\r\\n", answer)); del answer, wire
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 1000)
"""


def faults_per_request(mode: str) -> float:
    done = subprocess.run([sys.executable, "-c", PATTERN, mode], capture_output=True, text=True, check=True, timeout=60)
    return float(done.stdout)


def test_large_answers_stop_page_faulting_once_the_thresholds_are_set() -> None:
    # glibc's defaults give the trimmed pages back and fault them in again on every request.
    assert faults_per_request("default") >= 1
    assert faults_per_request("tuned") < 0.1

