"""Reports people read, rendered from stored run directories only (no GPU needed).

`report.write_report(paths, formats, out_dir)` makes a self-contained HTML page (plotly.js
inline, sortable tables), Markdown and CSV of the same tables, and Parquet of the
per-request records, for a run, a sweep or a comparison of runs.
"""
