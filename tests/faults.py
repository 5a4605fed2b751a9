"""Fault injection for the tests: run an ``mclnn`` command in a process that SIGKILLs itself at its
n-th ``os.replace`` (every output reaches its final name through one), as a crash or an
impatient user would, at the worst moment."""

import os
import subprocess
import sys

_KILL_AT_REPLACE = """
import os, signal, sys
calls = 0
real_replace = os.replace
def replace(*args, **kwargs):
    global calls
    calls += 1
    if calls == {n}:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(*args, **kwargs)
os.replace = replace
sys.argv = ["mclnn", *{args!r}]
from mclnn.cli import main
main()
"""


def run_killed_at_replace(args, n, *, env=None):
    """Run ``mclnn ARGS``, killed at its ``n``-th ``os.replace``; the finished process (its returncode < 0 if killed)."""
    code = _KILL_AT_REPLACE.format(n=n, args=[str(arg) for arg in args])
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


def count_replaces(args, *, env=None):
    """How many ``os.replace`` calls ``mclnn ARGS`` makes when nothing kills it."""
    code = _KILL_AT_REPLACE.format(n=-1, args=[str(arg) for arg in args]).replace(
        "main()\n", "try:\n    main()\nfinally:\n    print('replaces', calls, file=sys.stderr)\n")
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env={**os.environ, **(env or {})}, timeout=600)
    return int(finished.stderr.strip().splitlines()[-1].split()[-1])


def run_killed_after(args, seconds, *, env=None):
    """Run ``mclnn ARGS`` and SIGKILL it after ``seconds`` (if still running); the finished process."""
    process = subprocess.Popen([sys.executable, "-m", "mclnn.cli", *map(str, args)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
    process.communicate()
    return process
