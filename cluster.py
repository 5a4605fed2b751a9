"""Tasks on a Dask cluster, through joblib: connecting to the scheduler, and where a stage's tasks run.

joblib runs unchanged on a Dask cluster (its ``dask`` backend), so every stage keeps
its one joblib code path and runs its tasks either on local threads or processes, or
on the cluster's workers. The workers need the same mclnn environment, and the audio
and output folders at the same paths (a shared filesystem).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from pathlib import Path
from typing import Any, Iterator

import joblib

from mclnn.errors import ParameterError

__all__ = ["SCHEDULER_VARIABLE", "connect", "on_worker", "task_backend", "where_am_i"]

SCHEDULER_VARIABLE = "MCLNN_SCHEDULER"
CONNECT_SECONDS = 5


@contextlib.contextmanager
def connect(scheduler: str | None) -> Iterator[Any]:
    """A ``distributed.Client`` of the scheduler at ``scheduler`` for the block, or None without one.

    Parameters
    ----------
    scheduler : str or None
        An address (``tcp://host:8786``) or the path of a scheduler file
        (``dask scheduler --scheduler-file``).

    Raises
    ------
    ParameterError
        Dask's ``distributed`` is not installed, or no scheduler answers there within 5 s.
    """
    if not scheduler:
        yield None
        return
    try:
        from distributed import Client
    except ImportError:
        raise ParameterError("--scheduler needs Dask's distributed package: pip install 'mclnn[cluster]'") from None
    where = {"scheduler_file": scheduler} if Path(scheduler).is_file() else {"address": scheduler}
    try:
        client = Client(**where, timeout=f"{CONNECT_SECONDS}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ParameterError(f"--scheduler {scheduler}: no Dask scheduler answered there ({reason}); start one with "
                             "`dask scheduler` and give the address it prints") from None
    with client:
        yield client


def task_backend(client: Any, local: str) -> contextlib.AbstractContextManager:
    """joblib's configuration for a stage's tasks: the cluster's workers with ``client``, else backend ``local``."""
    if client is None:
        return joblib.parallel_config(backend=local)
    return joblib.parallel_config(backend="dask", client=client)


def _worker_address() -> str | None:
    """The address of the Dask worker running this code; None outside a worker."""
    distributed = sys.modules.get("distributed")  # a worker has imported it; elsewhere it is not needed
    if distributed is None:
        return None
    try:
        return distributed.get_worker().address
    except ValueError:
        return None


def on_worker() -> str:
    """`` (on worker ADDRESS)`` inside a Dask worker, to end an error message with; else ``""``."""
    address = _worker_address()
    return f" (on worker {address})" if address else ""


def where_am_i() -> str:
    """The Dask worker running this code, or this host and process, for reports."""
    address = _worker_address()
    return f"worker {address}" if address else f"{socket.gethostname()} process {os.getpid()}"
