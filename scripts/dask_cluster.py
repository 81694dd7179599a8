"""Start a Dask cluster for `glassdyn simulate --scheduler ADDRESS` and keep it alive.

Local (one process per core, 1 thread each):
    python scripts/dask_cluster.py local --workers 16
SLURM through dask-jobqueue (`pip install -e ".[hpc]"`), e.g. 20 nodes x 64 cores:
    python scripts/dask_cluster.py slurm --jobs 20 --cores 64 --memory 128GB --walltime 24:00:00 \
        --account ACCOUNT --queue QUEUE
It prints the scheduler address; pass it to `glassdyn simulate ... --scheduler ADDRESS`.
Every work unit writes its own Zarr chunks, so the store must be on a shared file system;
an interrupted campaign resumes when the same simulate command is run again.
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="kind", required=True)
    loc = sub.add_parser("local")
    loc.add_argument("--workers", type=int, default=2)
    loc.add_argument("--port", type=int, default=8786)
    sl = sub.add_parser("slurm")
    sl.add_argument("--jobs", type=int, required=True)
    sl.add_argument(
        "--cores", type=int, required=True, help="cores per job (one worker process per core)"
    )
    sl.add_argument("--memory", required=True)
    sl.add_argument("--walltime", default="24:00:00")
    sl.add_argument("--account", default=None)
    sl.add_argument("--queue", default=None)
    args = p.parse_args()
    if args.kind == "local":
        from dask.distributed import LocalCluster

        cluster = LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            scheduler_port=args.port,
            env={"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"},
        )
    else:
        try:
            from dask_jobqueue import SLURMCluster
        except ImportError:
            raise SystemExit("dask-jobqueue is not installed: pip install -e '.[hpc]'") from None
        cluster = SLURMCluster(
            cores=args.cores,
            processes=args.cores,
            memory=args.memory,
            walltime=args.walltime,
            account=args.account,
            queue=args.queue,
            job_script_prologue=["export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE"],
        )
        cluster.scale(jobs=args.jobs)
    print(f"scheduler: {cluster.scheduler_address}", flush=True)
    print("press Ctrl-C to stop", flush=True)
    try:
        while True:
            time.sleep(60)
    except KeyboardInterrupt:
        cluster.close()


if __name__ == "__main__":
    main()
