"""Built-in synthetic OpenAI-compatible streaming server with exact timing.

`control.SynthServer` starts one from Python, `cli.app` is `bench synth serve`; the server
itself (`server`, on raw asyncio) is imported only when one is started.
"""
