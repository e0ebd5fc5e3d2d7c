"""The fast stream classifier (templates) gives exactly what json.loads on every event gives."""

import json
import random

import pytest

from bench.loadgen.sse import Template, events_from_reads, parse_events_json, parse_reads

HEAD = '{"id":"cmpl-1","object":"text_completion","created":7,"model":"m"'


def completion(text, ids=None, *, finish="null", usage=None):
    ids_json = "null" if ids is None else json.dumps(ids, separators=(",", ":"))
    tail = f',"usage":{usage}' if usage else ""
    return (
        f'{HEAD},"choices":[{{"index":0,"text":{json.dumps(text)},"logprobs":null,'
        f'"finish_reason":{finish},"token_ids":{ids_json}}}]{tail}}}'
    )


def chat(delta):
    return (
        '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"m",'
        f'"choices":[{{"index":0,"delta":{json.dumps(delta, separators=(",", ":"))},'
        '"logprobs":null,"finish_reason":null}]}'
    )


USAGE = '{"prompt_tokens":5,"total_tokens":9,"completion_tokens":4}'


def sse(payloads):
    return b"".join(b"data: " + p.encode() + b"\n\n" for p in payloads)


STREAMS = {
    "completions, no ids": [
        completion(" a"),
        completion(" b"),
        completion(" c"),
        completion("", finish='"length"'),
        f'{HEAD},"choices":[],"usage":{USAGE}}}',
        "[DONE]",
    ],  # fmt: skip
    "completions, ids": [
        completion(" a", [5]),
        completion(" bc", [6, 7]),
        completion("", []),
        completion("", [8, 9, 10]),
        completion("x", []),
        "[DONE]",
    ],  # fmt: skip
    "chat with role and reasoning": [
        chat({"role": "assistant", "content": ""}),
        chat({"content": "Hi"}),
        chat({"content": ""}),
        chat({"reasoning_content": "think"}),
        chat({"content": "", "reasoning_content": "r"}),
        chat({"content": " there"}),
        "[DONE]",
    ],  # fmt: skip
    "escapes in text": [
        completion(" a"),
        completion('say "hi"'),
        completion("back\\"),
        completion("line\nbreak"),
        completion("é ü"),
        completion(" z"),
    ],  # fmt: skip
    "usage on a content chunk": [completion(" a"), completion(" b", usage=USAGE), completion(" c")],
    "two choices": [
        completion(" a"),
        f'{HEAD},"choices":[{{"index":0,"text":"x","token_ids":null}},'
        f'{{"index":1,"text":"y","token_ids":null}}]}}',
        completion(" b"),
    ],  # fmt: skip
    "error mid-stream": [
        completion(" a"),
        completion(" b"),
        '{"error": {"message": "boom", "type": "InternalServerError", "code": 500}}',
        "[DONE]",
    ],  # fmt: skip
}


def _reads_one_event_each(body):
    return [e + b"\n\n" for e in body.split(b"\n\n") if e]


def _random_cuts(body, rng):
    cuts = sorted(rng.sample(range(1, len(body)), k=min(len(body) - 1, rng.randint(1, 40))))
    edges = [0, *cuts, len(body)]
    return [body[a:b] for a, b in zip(edges, edges[1:], strict=False)]


@pytest.mark.parametrize("name", list(STREAMS))
def test_parse_reads_equals_json_on_every_split(name):
    body = sse(STREAMS[name])
    rng = random.Random(name)
    splits = [[body], _reads_one_event_each(body)] + [_random_cuts(body, rng) for _ in range(30)]
    for reads in splits:
        stamps = list(range(100, 100 + len(reads)))
        expected = parse_events_json(events_from_reads(reads, stamps))
        assert parse_reads(reads, stamps) == expected


def test_values_of_a_completion_stream_with_ids():
    reads = _reads_one_event_each(sse(STREAMS["completions, ids"]))
    parsed = parse_reads(reads, [10, 20, 30, 40, 50, 60])
    # [] with empty text is no content; [] with text "x" counts as a chunk of 0 tokens
    assert parsed["chunk_ns"] == [10, 20, 40, 50]
    assert parsed["chunk_tokens"] == [1, 2, 3, 0]
    assert parsed["usage"] is None and parsed["error"] is None


def test_values_of_chat_stream_role_chunk_not_content_reasoning_is():
    reads = _reads_one_event_each(sse(STREAMS["chat with role and reasoning"]))
    parsed = parse_reads(reads, [1, 2, 3, 4, 5, 6, 7])
    assert parsed["chunk_ns"] == [2, 4, 5, 6]
    assert parsed["chunk_tokens"] == [1, 1, 1, 1]


def test_usage_and_error_are_read():
    parsed = parse_reads([sse(STREAMS["completions, no ids"])], [9])
    assert parsed["usage"] == {"prompt_tokens": 5, "total_tokens": 9, "completion_tokens": 4}
    assert parsed["chunk_ns"] == [9, 9, 9]
    assert parse_reads([sse(STREAMS["error mid-stream"])], [1])["error"] == "boom"


def test_crlf_events_split_across_reads():
    body = sse([completion(" a"), completion(" b")]).replace(b"\n", b"\r\n")
    reads = [body[:-3], body[-3:]]  # the last CRLF pair split between reads
    parsed = parse_reads(reads, [1, 2])
    assert parsed["chunk_ns"] == [1, 2] and parsed["chunk_tokens"] == [1, 1]


def test_template_matches_only_the_learnt_shape():
    event = b"data: " + completion(" a").encode() + b"\n\n"
    template = Template.learn(event, json.loads(completion(" a")))
    assert template is not None
    other = b"data: " + completion(" bcd").encode() + b"\n\n"
    assert template.tokens(other, 0, len(other)) == 1
    final = b"data: " + completion(" b", finish='"length"').encode() + b"\n\n"
    assert template.tokens(final, 0, len(final)) == -1  # different bytes: JSON decides
    quoted = b"data: " + completion('a"b').encode() + b"\n\n"
    assert template.tokens(quoted, 0, len(quoted)) == -1
    empty = b"data: " + completion("").encode() + b"\n\n"
    assert template.tokens(empty, 0, len(empty)) == -2
    assert Template.learn(event, json.loads(chat({"role": "assistant", "content": ""}))) is None


@pytest.mark.parametrize("name", list(STREAMS))
def test_a_deferring_parser_gives_the_same_result_whenever_it_catches_up(name):
    """With `defer`, reads before the template is known are held (no JSON work while
    reads arrive) and classified when the deferred job runs, at any later moment."""
    from bench.loadgen.sse import StreamParser

    body = sse(STREAMS[name])
    rng = random.Random(name)
    for reads in [_reads_one_event_each(body)] + [_random_cuts(body, rng) for _ in range(20)]:
        stamps = list(range(1, len(reads) + 1))
        jobs = []
        parser = StreamParser(jobs.append)
        for data, ts in zip(reads, stamps, strict=True):
            parser.feed(data, ts)
            if jobs and rng.random() < 0.3:  # the loop gets round to it now and then
                jobs.pop(0)()
        assert parser.result() == parse_events_json(events_from_reads(reads, stamps))


def test_the_first_event_waits_for_the_deferred_job():
    from bench.loadgen.sse import StreamParser

    jobs = []
    parser = StreamParser(jobs.append)
    first, second = _reads_one_event_each(sse(STREAMS["completions, no ids"]))[:2]
    parser.feed(first, 1)
    parser.feed(second, 2)
    assert parser.parsed.chunk_ns == [] and len(jobs) == 1  # held, one job for both
    jobs.pop()()
    assert parser.parsed.chunk_ns == [1, 2] and parser.template is not None
    parser.feed(first, 3)  # known template: classified at once, no job
    assert parser.parsed.chunk_ns == [1, 2, 3] and jobs == []
