"Waiting, free ports and subprocesses of the tests."
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Generous upper bounds for things that normally take a few seconds; they
# only turn a hang into a clear failure.
WAIT = 120


def wait_for(predicate, what, timeout=WAIT, interval=0.2):
    "Poll predicate until it returns a true value, which is returned."
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def reachable(port):
    try:
        socket.create_connection(('127.0.0.1', port), 1).close()
    except OSError:
        return False
    return True


def run(cmd, log, env=None):
    "Run cmd, output to log; fail with the log's tail on error."
    with open(log, 'ab') as out:
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=env, cwd=ROOT)
    if result.returncode:
        tail = Path(log).read_text(errors='replace')[-4000:]
        raise AssertionError(f"{cmd[0]} failed ({result.returncode}):\n{tail}")


def stop(process, timeout=30):
    "Terminate process (and its process group); kill it if it lingers."
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
