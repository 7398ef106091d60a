"""Running a campaign's flows on parallel workers through Dask: local processes (``seiscreen run --workers N``),
a batch scheduler through dask-jobqueue (``seiscreen submit --scheduler slurm|pbs|lsf|sge``), or handing the flows
to jobflow-remote (``--engine jobflow-remote``) where a MongoDB server exists.

Design (see docs/cluster.md): one jobflow Flow per (material, facet, termination) is one Dask task, run with
jobflow's ``run_locally`` into an in-memory store on the worker; the worker returns its documents and the client
is the single writer of the campaign's store. The ranking (and the fidelity funnel) runs on the client.
"""
