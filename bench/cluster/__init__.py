"""Ray clusters: their nodes as records and joining one (`nodes`), and what a model larger
than one node needs from one before vLLM starts on it (`multinode`). Ray itself (the
`fleet` extra) is imported only when a cluster is joined."""
