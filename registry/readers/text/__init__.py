"""Text samples from JSONL: one generation per record, streamed line by line.

Every format becomes the same :class:`Sample`: `text` (required), and optionally `step`, `prompt`,
`id`, `tokens`, `token_logprobs`, `top_logprobs` (per position, the alternatives with their
logprobs) and free metadata (the whole record stays available as `Sample.record`).

The run manifest's `format` picks the adapter (see registry/readers/formats.py):

- absent, `samples` or `jsonl` — this project's own shape, one sample per line::

      {"step": 400, "id": "s1", "prompt": "O God", "text": "...", "tokens": ["a", "b"],
       "token_logprobs": [-0.1, -2.3], "top_logprobs": [{"a": -0.1, "c": -2.4}, ...]}

  `top_logprobs` entries may be dicts token -> logprob or lists of `{token, logprob}`.
- `openai_chat` — chat completions (`choices[].message.content`,
  `choices[].logprobs.content[].{token, logprob, top_logprobs}`); the record may be the completion
  itself, or wrap it under `response` or `response.body` (the Batch API's output lines).
- `openai_completions` — legacy completions, also what vLLM's OpenAI-compatible server returns
  (`choices[].text`, `choices[].logprobs.{tokens, token_logprobs, top_logprobs}`).
- `lm_eval` — lm-evaluation-harness `--log_samples` JSONL: the raw generation `resps[0][k]` is the
  text (one sample per generation), `filtered_resps` and `target` stay in the record, the metrics
  named in `metrics` become `Sample.metrics`, the context (`arguments`) is the prompt.

Every choice of an OpenAI response is one sample. Where the step comes from: the record's top-level
`step`, else `metadata.step`; for a folder artifact (every `*.jsonl` below it, in path order) a
record without either takes the step from the nearest path component such as `step_1000`,
`iter-400`, `ckpt1200` or `checkpoint-50`. The prompt is the top-level `prompt` (or, for OpenAI
shapes, the last user message of `messages`, also under `request` / `request.body`). The
manifest's `columns` renames fields (`columns: {step: iter, text: completion}`; a dotted name
reaches into objects: `{step: meta.ckpt}`), and `where` keeps only records whose top-level fields
equal the given values (`where: {filter: strict-match}` for lm_eval's one-row-per-filter files).

Bad input is an :class:`ArtifactError` naming the file and line: malformed JSON, bytes that are not
UTF-8, a record without text, token arrays of different lengths. Logprob *values* are checked when
an evaluator first asks for them (`Sample.token_logprobs()` etc.), with the same located message,
so evaluators that only read the text do not pay for checking them.


Modules: `sample` (Sample), `lines` (shared parsing), one module per shape (`samples`, `openai`,
`lm_eval`), and `read` (iter_samples, read_samples).
"""
