"""Engines: a managed `vllm serve`, any OpenAI-compatible endpoint, or in-process vllm.LLM.

Implementations are found through `ENGINES` (lazy "module:attr" paths) so importing this
package never imports vLLM.
"""

ENGINES: dict[str, str] = {
    "managed": "bench.engines.managed:ManagedServer",
    "endpoint": "bench.engines.endpoint:check_endpoint",
    "offline": "bench.engines.offline:run_offline",
}
