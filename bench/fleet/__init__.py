"""Fleet-wide runs on a Ray cluster: the same job on every selected node.

The cluster itself (its nodes as records, joining it, and the preflight of a model larger
than one node) is `bench.cluster`, below the runner; this package drives many nodes.

- `select`: choosing nodes by label, custom resource, GPU type or an explicit list.
- `run` (`run_fleet`): one job per selected node (node affinity), each run directory
  shipped back through the object store and registered in the central results store as
  it finishes; a manifest (`fleet.json`) makes the fleet resumable.
- `standing` / `summary`: nodes ranked, outliers against the median of the same SKU.

Nothing here imports Ray at module level; `bench fleet --help` stays light.
"""
