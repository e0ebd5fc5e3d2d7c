"""Beyond one machine, on Ray (issue 10): multi-node models and fleet-wide runs.

- `multinode`: the preflight `check_cluster(engine_args, address)` that a Ray cluster has
  the GPUs and nodes a models.yaml entry needs, and `RayLaunch`, which `ManagedServer`
  uses to start vLLM with `--distributed-executor-backend ray` on that cluster.
- `cluster` / `select`: the nodes of a cluster as records, and choosing some of them by
  label, custom resource, GPU type or an explicit list.
- `run` (`run_fleet`): one job per selected node (node affinity), each run directory
  shipped back through the object store and registered in the central results store as
  it finishes; a manifest (`fleet.json`) makes the fleet resumable.
- `standing` / `summary`: nodes ranked, outliers against the median of the same SKU.

Nothing here imports Ray at module level; `bench fleet --help` stays light.
"""
