"""The standard workload suite: named workloads → token-exact `RequestSpec`s.

    spec.py        what a workload is (strict config, discriminated on `kind`), WorkloadRef
    suite.py       the packaged suite `bench/data/workloads.yaml` + user overrides
    build.py       build_requests / iter_requests (the entry point), auto_scale, WorkloadInfo
    text.py        `text` prompts and `sessions` (multi-turn agent tasks)
    multimodal.py  `image` and `video` requests (chat API, base64 data URLs)
    replay.py      `dataset` requests from datasets.py (ShareGPT, prompt JSONL)
    tokens.py      counting as the server does, token-exact text, POST /tokenize
    media.py       synthesised screenshots and screen recordings (PNG/JPEG/mp4)
    accounting.py  length check, per-task totals, vision tokens and device-s per image/video-s
    run.py         the seam to `bench run` (requests_for_run, report_section)
    verify.py      client vs server token counts
    cli.py         `bench workloads list|show|preview|check`

Importing this package is light: numpy, PIL, cv2 and transformers load inside functions
or in the modules that need them.
"""
