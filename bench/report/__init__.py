"""Run directories: report.json, requests.jsonl, summary.md — written and read back."""
