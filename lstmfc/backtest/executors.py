"""Executors of backtest units: this machine (joblib) or a Dask cluster.

* ``local``: ``--jobs 1`` runs the units one after another in this process;
  ``--jobs N`` runs them in ``N`` worker processes with joblib's ``loky`` backend.
  Each worker limits the backend to ``max(1, cores // N)`` threads
  (:func:`lstmfc.network.backend.limit_threads`; joblib's ``inner_max_num_threads`` for
  BLAS/OpenMP) so the machine's cores are not oversubscribed.
* ``dask``: one task per unit is submitted to a ``dask.distributed`` scheduler
  (``--scheduler tcp://HOST:PORT`` or ``DASK_SCHEDULER_ADDRESS``; without either a
  ``LocalCluster`` of ``--jobs`` single-threaded worker processes is started on
  loopback) with ``retries=2``; when a worker dies its tasks are re-run elsewhere by
  the scheduler. Results are gathered by the driver, which alone writes the
  workspace.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lstmfc.backtest.plan import _pos_int
from lstmfc.backtest.unit import Unit, UnitResult, failed, run_unit, run_unit_safe
from lstmfc.core.errors import TemporaryFailure, UsageError
from lstmfc.core.limits import MAX_JOBS_PER_CORE
from lstmfc.network.backend import cpu_count

EXECUTORS = ("local", "dask")
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
CONNECT_TIMEOUT = "15s"  # to reach a remote scheduler


@dataclass(frozen=True)
class Execution:
    """Where the units of a backtest run.

    Attributes
    ----------
    executor : {"local", "dask"}
        Worker processes of this machine (joblib/loky), or a Dask cluster.
    jobs : int
        Local worker processes (``local``) or local-cluster workers (``dask`` without a
        scheduler address), 1 to :data:`MAX_JOBS_PER_CORE` x the usable cores.
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a running ``dask scheduler`` (``dask`` only; default
        ``$DASK_SCHEDULER_ADDRESS``; neither: a ``LocalCluster`` on loopback).
    """

    executor: str = "local"
    jobs: int = 1
    scheduler: str | None = None

    def checked(self) -> Execution:
        """The options checked, with the scheduler address resolved for ``dask``.

        Raises
        ------
        UsageError
            Unknown executor, ``--scheduler`` without ``--executor dask``, or ``--jobs``
            out of :func:`check_jobs`'s bounds.
        """
        if self.executor not in EXECUTORS:
            raise UsageError(f"--executor must be local or dask, not {self.executor!r}")
        scheduler = self.scheduler
        if self.executor == "dask":
            scheduler = scheduler_address(scheduler)
        elif scheduler:
            raise UsageError("--scheduler needs --executor dask")
        remote = self.executor == "dask" and scheduler is not None
        return Execution(self.executor, check_jobs(self.jobs, remote=remote), scheduler)


def check_jobs(jobs, *, remote: bool = False) -> int:
    """``--jobs`` as an int from 1 to :data:`MAX_JOBS_PER_CORE` x the usable cores.

    With a remote Dask scheduler (``remote``) the value is not used (the cluster has
    its own workers), so only ``>= 1`` is checked.

    Raises
    ------
    UsageError
        One line naming the bound and the machine's cores.
    """

    if remote:
        return _pos_int("--jobs", jobs)
    cores = cpu_count()
    cap = MAX_JOBS_PER_CORE * cores
    jobs = _pos_int("--jobs", jobs)
    if jobs > cap:
        raise UsageError(
            f"--jobs must be from 1 to {cap} ({MAX_JOBS_PER_CORE} x the {cores} core"
            f"{'s' if cores != 1 else ''} this process may use), got {jobs}"
        )
    return jobs


def _indexed(fn: Callable, i: int, unit: Unit) -> tuple[int, UnitResult]:
    return i, fn(unit)


def local_threads(jobs: int) -> int:
    """TensorFlow threads per local worker: ``max(1, cores // jobs)``."""
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


def _run_local(units, jobs, on_result, fn):
    results: list[UnitResult | None] = [None] * len(units)

    def done(i, res):
        results[i] = res
        if on_result is not None:
            on_result(i, res)

    if jobs == 1 or len(units) <= 1:
        for i, u in enumerate(units):
            done(i, fn(u))
        return results
    from joblib import Parallel, delayed, parallel_config

    threads = local_threads(jobs)
    shipped = [dataclasses.replace(u, threads=threads) for u in units]
    try:
        with parallel_config(backend="loky", inner_max_num_threads=threads):
            gen = Parallel(n_jobs=jobs, return_as="generator_unordered")(
                delayed(_indexed)(fn, i, u) for i, u in enumerate(shipped)
            )
            for i, res in gen:
                done(i, res)
    except Exception as exc:  # e.g. joblib's TerminatedWorkerError: a worker died
        msg = " ".join(str(exc).split())[:200]
        for i, r in enumerate(results):
            if r is None:
                done(
                    i,
                    failed(
                        units[i],
                        f"local worker failed ({type(exc).__name__}: {msg}); "
                        "rerun, or use --executor dask, which retries",
                    ),
                )
    return results


def scheduler_address(scheduler: str | None) -> str | None:
    """``--scheduler`` or ``$DASK_SCHEDULER_ADDRESS`` (None: start a local cluster)."""
    addr = scheduler or os.environ.get(SCHEDULER_ENV) or None
    if addr is not None and "://" not in addr and ":" not in addr:
        raise UsageError(f"--scheduler {addr!r} is not an address like tcp://HOST:8786")
    return addr


def _run_dask(units, jobs, scheduler, on_result, fn, notify):
    try:
        from dask.base import tokenize
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - dask is a dependency
        raise UsageError(
            "--executor dask needs dask.distributed: pip install 'dask[distributed]'"
        ) from None

    addr = scheduler_address(scheduler)
    cluster = None
    threads = None
    if addr is None:
        threads = local_threads(jobs)
        if notify:
            notify(f"starting a local Dask cluster: {jobs} worker processes on 127.0.0.1")
        cluster = LocalCluster(
            n_workers=jobs,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
    else:
        try:
            client = Client(addr, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise TemporaryFailure(
                f"cannot reach the Dask scheduler at {addr} ({type(exc).__name__}: "
                f"{' '.join(str(exc).split())[:160]}); is `dask scheduler` running?"
            ) from None
        if notify:
            n = len(client.scheduler_info(n_workers=-1).get("workers", {}))
            notify(f"Dask scheduler {addr}: {n} workers")
    results: list[UnitResult | None] = [None] * len(units)
    try:
        futures = {}
        for i, u in enumerate(units):
            shipped = u if threads is None else dataclasses.replace(u, threads=threads)
            key = f"lstmfc-unit-{u.ticker}-fit{u.fit + 1}-{tokenize(shipped)}"
            fut = client.submit(fn, shipped, key=key, retries=2, pure=False)
            futures[fut.key] = (i, fut)
        for fut in as_completed([f for _, f in futures.values()]):
            i = futures[fut.key][0]
            try:
                res = fut.result()
            except Exception as exc:  # KilledWorker, or an error left after the retries
                res = failed(
                    units[i],
                    f"Dask task failed ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})",
                )
            results[i] = res
            if on_result is not None:
                on_result(i, res)
            fut.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return results


def execute_units(
    units: Sequence[Unit],
    execution: Execution | None = None,
    *,
    on_result: Callable[[int, UnitResult], None] | None = None,
    fn: Callable[[Unit], UnitResult] | None = None,
    notify: Callable[[str], None] | None = None,
) -> list[UnitResult]:
    """Run units of work with the local (joblib/loky) or the Dask executor.

    Parameters
    ----------
    units : sequence of Unit
        Inputs of :func:`lstmfc.backtest.unit.run_unit`.
    execution : Execution, optional
        Executor, jobs and scheduler (default: one local worker).
    on_result : callable, optional
        ``on_result(index, result)`` as each unit finishes (any order).
    fn : callable, optional
        The unit function (default :func:`run_unit_safe` locally, :func:`run_unit`
        on Dask, whose exceptions Dask retries twice). Must be importable by workers.
    notify : callable, optional
        Receives one-line status messages (cluster started ...).

    Returns
    -------
    list of UnitResult
        One result per unit, in the order of ``units``; failed units have ``ok``
        False and an ``error`` line.

    Raises
    ------
    UsageError
        Unknown executor, ``jobs < 1`` or above :func:`check_jobs`'s bound. Fewer units
        than ``jobs`` start only one worker per unit.
    TemporaryFailure
        The Dask scheduler cannot be reached.
    """
    ex = (execution or Execution()).checked()
    jobs = max(1, min(ex.jobs, len(units)))  # a worker per unit at most: no idle processes
    if ex.executor == "local":
        return _run_local(list(units), jobs, on_result, fn or run_unit_safe)
    return _run_dask(list(units), jobs, ex.scheduler, on_result, fn or run_unit, notify)
