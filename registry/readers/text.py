"""Text samples from JSONL: one generation per record, streamed line by line.

Every format becomes the same :class:`Sample`: `text` (required), and optionally `step`, `prompt`,
`id`, `tokens`, `token_logprobs`, `top_logprobs` (per position, the alternatives with their
logprobs) and free metadata (the whole record stays available as `Sample.record`).

The run manifest's `format` picks the adapter (see :data:`FORMATS`):

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
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from registry.errors import ArtifactError

if TYPE_CHECKING:
    from registry.runs.manifest import ArtifactSpec

NATIVE_FORMATS = (None, "samples", "jsonl")
FORMATS = ("samples", "openai_chat", "openai_completions", "lm_eval")

# A logprob above this is not a log-probability (someone saved probabilities or logits).
_LOGPROB_TOLERANCE = 1e-4
_STEP_IN_PATH = re.compile(r"(?:^|[^a-z])(?:step|iter|iteration|ckpt|checkpoint)[-_=]?(\d+)(?:$|[^0-9])", re.I)


class Sample:
    """One generated text and what was recorded with it.

    `tokens()`, `token_logprobs()`, `top_logprobs()` and `metrics()` check their values on first
    use and raise a located ArtifactError when they are malformed.
    """

    __slots__ = ("text", "step", "prompt", "id", "record", "source", "line", "_tokens", "_logprobs", "_top", "_metrics")

    def __init__(
        self,
        text: str,
        step: int | None = None,
        prompt: str | None = None,
        record: dict[str, Any] | None = None,
        *,
        id: str | None = None,
        tokens: Any = None,
        token_logprobs: Any = None,
        top_logprobs: Any = None,
        metrics: Any = None,
        source: Path | None = None,
        line: int | None = None,
    ) -> None:
        self.text = text
        self.step = step
        self.prompt = prompt
        self.id = id
        self.record: dict[str, Any] = record if record is not None else {}
        self.source = source
        self.line = line
        self._tokens = tokens
        self._logprobs = token_logprobs
        self._top = top_logprobs
        self._metrics = metrics

    def __repr__(self) -> str:
        return f"Sample(step={self.step!r}, id={self.id!r}, text={self.text[:40]!r})"

    def _error(self, message: str, hint: str | None = None) -> ArtifactError:
        return ArtifactError(self.source or Path("<sample>"), message, line=self.line, hint=hint)

    @property
    def has_logprobs(self) -> bool:
        return self._logprobs is not None

    @property
    def has_top_logprobs(self) -> bool:
        return self._top is not None

    def tokens(self) -> list[str] | None:
        """The generated tokens, or None when not recorded."""
        if self._tokens is None:
            return None
        for i, tok in enumerate(self._tokens):
            if not isinstance(tok, str):
                raise self._error(f"tokens[{i}] must be a string, not {tok!r}")
        return list(self._tokens)

    def token_logprobs(self) -> list[float | None] | None:
        """Log-probability of each generated token (None where a tool wrote null), or None."""
        if self._logprobs is None:
            return None
        out: list[float | None] = []
        for i, lp in enumerate(self._logprobs):
            if lp is None:
                out.append(None)
                continue
            out.append(self._logprob(lp, f"token_logprobs[{i}]"))
        return out

    def top_logprobs(self) -> list[dict[str, float]] | None:
        """Per position, the alternatives token -> logprob (empty where none were recorded), or None."""
        if self._top is None:
            return None
        out: list[dict[str, float]] = []
        for i, entry in enumerate(self._top):
            alts: dict[str, float] = {}
            if entry is None:
                pass
            elif isinstance(entry, dict):
                for tok, lp in entry.items():
                    alts[tok] = self._logprob(lp, f"top_logprobs[{i}][{tok!r}]")
            elif isinstance(entry, list):
                for j, alt in enumerate(entry):
                    if not isinstance(alt, dict) or not isinstance(alt.get("token"), str) or "logprob" not in alt:
                        raise self._error(f'top_logprobs[{i}][{j}] must be {{"token": ..., "logprob": ...}}, not {alt!r}'[:200])
                    lp = self._logprob(alt["logprob"], f"top_logprobs[{i}][{j}].logprob")
                    tok = alt["token"]
                    alts[tok] = max(lp, alts.get(tok, -math.inf))
            else:
                raise self._error(
                    f"top_logprobs[{i}] must be an object token -> logprob or a list of {{token, logprob}}, "
                    f"not {type(entry).__name__}"
                )
            out.append(alts)
        return out

    def metrics(self) -> dict[str, float]:
        """Numeric per-sample scores: a native record's `metrics` object, or lm_eval's metric fields."""
        raw = self._metrics
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise self._error(f"'metrics' must be an object name -> number, not {type(raw).__name__}")
        out: dict[str, float] = {}
        for key, value in raw.items():
            if isinstance(value, int | float):  # bool too: a pass/fail score counts as 1.0/0.0
                out[key] = float(value)
        return out

    def _logprob(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._error(f"{where} must be a number, not {value!r}"[:200])
        x = float(value)
        if math.isnan(x) or x > _LOGPROB_TOLERANCE:
            raise self._error(
                f"{where} is {value!r}, not a log-probability (<= 0)",
                hint="store natural-log probabilities, not probabilities or logits",
            )
        return min(x, 0.0)


# --- reading -------------------------------------------------------------------------------------


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.jsonl") if p.is_file())
        if not files:
            raise ArtifactError(path, "the folder holds no .jsonl files", hint="a text artifact folder holds *.jsonl files")
        return files
    return [path]


def artifact_size(path: Path) -> int:
    """Bytes of a text artifact (a file, or every .jsonl file of a folder)."""
    try:
        return sum(p.stat().st_size for p in _files(path))
    except OSError:
        return 0


def _step_from_path(file: Path, root: Path) -> int | None:
    try:
        parts = file.relative_to(root).with_suffix("").parts
    except ValueError:
        return None
    for part in reversed(parts):
        m = _STEP_IN_PATH.search(part)
        if m:
            return int(m.group(1))
    return None


def _lines(file: Path) -> Iterator[tuple[int, str]]:
    """(line number, line) for each non-blank line; bytes that are not UTF-8 are a located error.

    The file is decoded in large chunks by the io layer (much faster than line by line); when that
    fails, the file is scanned again in binary to name the offending line.
    """
    try:
        fh: TextIO = file.open("r", encoding="utf-8-sig", newline="\n")
    except OSError as exc:
        raise ArtifactError(file, f"cannot read file: {exc.strerror or exc}") from None
    lineno = 0
    with fh:
        try:
            for lineno, text in enumerate(fh, start=1):
                if text.isspace():
                    continue
                yield lineno, text
        except UnicodeDecodeError:
            raise _locate_bad_utf8(file, lineno) from None
        except OSError as exc:
            raise ArtifactError(file, f"cannot read file: {exc.strerror or exc}", line=lineno + 1) from None


def _locate_bad_utf8(file: Path, after: int) -> ArtifactError:
    with file.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if lineno <= after:
                continue
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return ArtifactError(
                    file,
                    f"not UTF-8 (byte {exc.start + 1} of the line is 0x{raw[exc.start]:02x})",
                    line=lineno,
                    hint="text artifacts are UTF-8 JSONL; re-encode the file",
                )
    return ArtifactError(file, "not UTF-8", line=after + 1, hint="text artifacts are UTF-8 JSONL; re-encode the file")


_decoder = json.JSONDecoder()


def _parse(line: str, file: Path, lineno: int) -> Any:
    # raw_decode skips json.loads' two whitespace regex passes (about 2x faster on short records);
    # anything unusual falls back to json.loads for its exact error message.
    try:
        obj, end = _decoder.raw_decode(line)
        if end == len(line) or line[end:].isspace():
            return obj
    except json.JSONDecodeError:
        pass
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        # An error at the end of the line is past its newline: report the line's own last column.
        col = exc.colno if exc.lineno == 1 else len(line.rstrip("\r\n")) + 1
        raise ArtifactError(file, f"invalid JSON: {exc.msg}", line=lineno, column=col) from None
    except RecursionError:
        raise ArtifactError(file, "invalid JSON: nested too deeply", line=lineno) from None


def _dig(obj: Mapping[str, Any], dotted: str) -> Any:
    value: Any = obj
    for key in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _check_step(step: Any, file: Path, lineno: int, field: str = "step") -> int | None:
    if step is None or (isinstance(step, int) and not isinstance(step, bool)):
        return step
    if isinstance(step, float) and step.is_integer():
        return int(step)
    raise ArtifactError(file, f"'{field}' must be an integer, not {step!r}", line=lineno)


def _entries(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def _check_lengths(arrays: Iterable[tuple[str, Any]], file: Path, lineno: int) -> None:
    first: tuple[str, int] | None = None
    for name, value in arrays:
        if value is None:
            continue
        if not isinstance(value, list):
            raise ArtifactError(file, f"'{name}' must be a list, not {type(value).__name__}", line=lineno)
        if first is None:
            first = (name, len(value))
        elif len(value) != first[1]:
            raise ArtifactError(
                file,
                f"'{name}' has {_entries(len(value))} but '{first[0]}' has {_entries(first[1])}",
                line=lineno,
                hint="tokens, token_logprobs and top_logprobs need one entry per generated token",
            )


class _Fields:
    """Where the fields of a record are, after the manifest's `columns` renames."""

    def __init__(self, columns: Mapping[str, str]):
        self.text = columns.get("text", "text")
        self.step = columns.get("step")
        self.prompt = columns.get("prompt", "prompt")
        self.id = columns.get("id", "id")
        self.tokens = columns.get("tokens", "tokens")
        self.token_logprobs = columns.get("token_logprobs", "token_logprobs")
        self.top_logprobs = columns.get("top_logprobs", "top_logprobs")
        self.metrics = columns.get("metrics", "metrics")
        self.simple = all("." not in v for v in columns.values())
        self.default = not columns

    def get(self, obj: dict[str, Any], key: str) -> Any:
        return obj.get(key) if self.simple or "." not in key else _dig(obj, key)

    def step_of(self, obj: dict[str, Any], file: Path, lineno: int) -> int | None:
        if self.step is not None:
            return _check_step(self.get(obj, self.step), file, lineno, self.step)
        step = obj.get("step")
        if step is None:
            meta = obj.get("metadata")
            if isinstance(meta, dict) and "step" in meta:
                return _check_step(meta["step"], file, lineno, "metadata.step")
        return _check_step(step, file, lineno)


Adapter = Callable[[dict[str, Any], _Fields, Path, int], Iterable[Sample]]


def _native(obj: dict[str, Any], f: _Fields, file: Path, lineno: int) -> Iterable[Sample]:
    text = f.get(obj, f.text)
    if not isinstance(text, str):
        raise ArtifactError(
            file,
            f"sample has no string '{f.text}'" if text is None else f"'{f.text}' must be a string",
            line=lineno,
            hint='each line needs at least {"text": "..."}',
        )
    if f.step is None:
        step = obj.get("step")
        if type(step) is not int:  # absent, in metadata, or not an integer: the slow path says which
            step = f.step_of(obj, file, lineno)
    else:
        step = f.step_of(obj, file, lineno)
    prompt = f.get(obj, f.prompt)
    if prompt is not None and not isinstance(prompt, str):
        raise ArtifactError(file, f"'{f.prompt}' must be a string", line=lineno)
    ident = f.get(obj, f.id)
    tokens = f.get(obj, f.tokens)
    logprobs = f.get(obj, f.token_logprobs)
    top = f.get(obj, f.top_logprobs)
    if tokens is not None or logprobs is not None or top is not None:
        _check_lengths(((f.tokens, tokens), (f.token_logprobs, logprobs), (f.top_logprobs, top)), file, lineno)
    return (
        Sample(
            text,
            step,
            prompt,
            obj,
            id=None if ident is None else str(ident),
            tokens=tokens,
            token_logprobs=logprobs,
            top_logprobs=top,
            metrics=f.get(obj, f.metrics),
            source=file,
            line=lineno,
        ),
    )


def _native_stream(file: Path, fields: _Fields, where: list[tuple[str, Any]], path_step: int | None) -> Iterator[Sample]:
    """The native shape without renames, inlined: the hot loop of every text evaluator.

    Same checks and messages as `_lines` + `_parse` + `_native` (it falls back to them for any
    problem), without a generator layer and a function call per line.
    """
    decode = _decoder.raw_decode
    new = Sample.__new__
    try:
        fh: TextIO = file.open("r", encoding="utf-8-sig", newline="\n")
    except OSError as exc:
        raise ArtifactError(file, f"cannot read file: {exc.strerror or exc}") from None
    lineno = 0
    with fh:
        try:
            for lineno, line in enumerate(fh, start=1):
                try:
                    obj, end = decode(line)
                except json.JSONDecodeError:
                    if line.isspace():
                        continue
                    obj = _parse(line, file, lineno)
                else:
                    if end < len(line) - 1 or (end == len(line) - 1 and line[-1] != "\n"):
                        obj = _parse(line, file, lineno)  # trailing data, or an error message to give
                if type(obj) is not dict:
                    raise ArtifactError(file, "each line must be a JSON object", line=lineno)
                if where and any(obj.get(k) != v for k, v in where):
                    continue
                get = obj.get
                text: Any = get("text")
                prompt: Any = get("prompt")
                if type(text) is not str or (prompt is not None and type(prompt) is not str):
                    _native(obj, fields, file, lineno)  # raises, with the message
                step = get("step")
                if step is None:
                    meta = get("metadata")
                    if type(meta) is dict and "step" in meta:
                        step = _check_step(meta["step"], file, lineno, "metadata.step")
                    else:
                        step = path_step
                elif type(step) is not int:
                    step = _check_step(step, file, lineno)
                tokens = get("tokens")
                logprobs = get("token_logprobs")
                top = get("top_logprobs")
                if tokens is not None or logprobs is not None or top is not None:
                    _check_lengths((("tokens", tokens), ("token_logprobs", logprobs), ("top_logprobs", top)), file, lineno)
                ident = get("id")
                sample = new(Sample)
                sample.text = text
                sample.step = step
                sample.prompt = prompt
                sample.id = ident if ident is None or type(ident) is str else str(ident)
                sample.record = obj
                sample.source = file
                sample.line = lineno
                sample._tokens = tokens
                sample._logprobs = logprobs
                sample._top = top
                sample._metrics = get("metrics")
                yield sample
        except UnicodeDecodeError:
            raise _locate_bad_utf8(file, lineno) from None
        except OSError as exc:
            raise ArtifactError(file, f"cannot read file: {exc.strerror or exc}", line=lineno + 1) from None


def _openai_body(obj: dict[str, Any], file: Path, lineno: int) -> tuple[dict[str, Any], str]:
    if "choices" in obj:
        return obj, ""
    response = obj.get("response")
    if isinstance(response, dict):
        if "choices" in response:
            return response, "response."
        body = response.get("body")
        if isinstance(body, dict) and "choices" in body:
            return body, "response.body."
    error = obj.get("error")
    if error:
        detail = error.get("message", error) if isinstance(error, dict) else error
        raise ArtifactError(
            file, f"the request failed: {str(detail)[:160]}", line=lineno, hint="drop failed requests or re-run them"
        )
    raise ArtifactError(
        file,
        "no 'choices' (looked at the top level, under 'response' and under 'response.body')",
        line=lineno,
        hint="is the manifest's `format` right?",
    )


def _openai_prompt(obj: dict[str, Any]) -> str | None:
    prompt = obj.get("prompt")
    if isinstance(prompt, str):
        return prompt
    request = obj.get("request")
    for holder in (obj, request, request.get("body") if isinstance(request, dict) else None):
        if not isinstance(holder, dict):
            continue
        if isinstance(holder.get("prompt"), str):
            return str(holder["prompt"])
        messages = holder.get("messages")
        if isinstance(messages, list):
            for message in reversed(messages):
                if isinstance(message, dict) and message.get("role") == "user":
                    content = message.get("content")
                    if isinstance(content, str):
                        return content
                    if isinstance(content, list):  # content parts
                        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return None


def _choices(body: dict[str, Any], where: str, file: Path, lineno: int) -> list[tuple[int, dict[str, Any]]]:
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        raise ArtifactError(file, f"'{where}choices' must be a non-empty list", line=lineno)
    out = []
    for k, choice in enumerate(choices):
        if not isinstance(choice, dict):
            raise ArtifactError(file, f"'{where}choices[{k}]' must be an object", line=lineno)
        out.append((k, choice))
    return out


def _ident(obj: dict[str, Any], body: dict[str, Any], k: int, many: bool) -> str | None:
    ident = obj.get("id", body.get("id", obj.get("custom_id")))
    if ident is None:
        return None
    return f"{ident}/{k}" if many else str(ident)


def _openai_chat(obj: dict[str, Any], f: _Fields, file: Path, lineno: int) -> Iterator[Sample]:
    body, where = _openai_body(obj, file, lineno)
    step = f.step_of(obj, file, lineno)
    prompt = _openai_prompt(obj)
    choices = _choices(body, where, file, lineno)
    for k, choice in choices:
        at = f"{where}choices[{k}]"
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str):
            if not isinstance(message, dict) or "content" not in message:
                what = "missing"
            else:
                what = "null" if content is None else f"a {type(content).__name__}"
            raise ArtifactError(
                file,
                f"'{at}.message.content' is {what}, not text",
                line=lineno,
                hint="a tool call or a refusal has no text; drop such records",
            )
        tokens: list[Any] | None = None
        logprobs: list[Any] | None = None
        top: list[Any] | None = None
        lp = choice.get("logprobs")
        if isinstance(lp, dict) and lp.get("content") is not None:
            entries = lp["content"]
            if not isinstance(entries, list):
                raise ArtifactError(file, f"'{at}.logprobs.content' must be a list", line=lineno)
            tokens, logprobs, top = [], [], []
            for i, e in enumerate(entries):
                if not isinstance(e, dict) or "token" not in e or "logprob" not in e:
                    raise ArtifactError(file, f"'{at}.logprobs.content[{i}]' must have 'token' and 'logprob'", line=lineno)
                tokens.append(e["token"])
                logprobs.append(e["logprob"])
                top.append(e.get("top_logprobs"))
            if all(t is None for t in top):
                top = None
        yield Sample(
            content,
            step,
            prompt,
            obj,
            id=_ident(obj, body, k, len(choices) > 1),
            tokens=tokens,
            token_logprobs=logprobs,
            top_logprobs=top,
            metrics=obj.get("metrics"),
            source=file,
            line=lineno,
        )


def _openai_completions(obj: dict[str, Any], f: _Fields, file: Path, lineno: int) -> Iterator[Sample]:
    body, where = _openai_body(obj, file, lineno)
    step = f.step_of(obj, file, lineno)
    prompt = _openai_prompt(obj)
    choices = _choices(body, where, file, lineno)
    for k, choice in choices:
        at = f"{where}choices[{k}]"
        text = choice.get("text")
        if not isinstance(text, str):
            raise ArtifactError(file, f"'{at}.text' is missing or not a string", line=lineno)
        tokens = logprobs = top = None
        lp = choice.get("logprobs")
        if isinstance(lp, dict):
            tokens, logprobs, top = lp.get("tokens"), lp.get("token_logprobs"), lp.get("top_logprobs")
            _check_lengths(
                (
                    (f"{at}.logprobs.tokens", tokens),
                    (f"{at}.logprobs.token_logprobs", logprobs),
                    (f"{at}.logprobs.top_logprobs", top),
                ),
                file,
                lineno,
            )
        yield Sample(
            text,
            step,
            prompt,
            obj,
            id=_ident(obj, body, k, len(choices) > 1),
            tokens=tokens,
            token_logprobs=logprobs,
            top_logprobs=top,
            metrics=obj.get("metrics"),
            source=file,
            line=lineno,
        )


_LM_EVAL_BOOKKEEPING = {"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics"}


def _lm_eval(obj: dict[str, Any], f: _Fields, file: Path, lineno: int) -> Iterator[Sample]:
    resps = obj.get("resps")
    if resps is None:
        resps = obj.get("filtered_resps")
    generations = resps[0] if isinstance(resps, list) and resps else None
    if isinstance(generations, str):
        generations = [generations]
    if not isinstance(generations, list) or not generations or not all(isinstance(g, str) for g in generations):
        raise ArtifactError(
            file,
            "lm_eval record has no generated text in 'resps[0]'",
            line=lineno,
            hint="text evaluators read generate_until tasks; loglikelihood and multiple-choice rows hold scores",
        )
    args = obj.get("arguments")
    prompt: Any = None
    if isinstance(args, dict):
        first = args.get("gen_args_0")
        prompt = first.get("arg_0") if isinstance(first, dict) else None
    elif isinstance(args, list) and args and isinstance(args[0], list) and args[0]:
        prompt = args[0][0]
    names = obj.get("metrics")
    if isinstance(names, list):
        metrics = {n: obj[n] for n in names if isinstance(n, str) and n in obj}
    else:
        metrics = {k: v for k, v in obj.items() if k not in _LM_EVAL_BOOKKEEPING and isinstance(v, int | float)}
    step = f.step_of(obj, file, lineno)
    doc_id = obj.get("doc_id")
    for k, text in enumerate(generations):
        yield Sample(
            text,
            step,
            prompt if isinstance(prompt, str) else None,
            obj,
            id=None if doc_id is None else (f"{doc_id}/{k}" if len(generations) > 1 else str(doc_id)),
            metrics=metrics,
            source=file,
            line=lineno,
        )


ADAPTERS: dict[str, Adapter] = {
    "samples": _native,
    "openai_chat": _openai_chat,
    "openai_completions": _openai_completions,
    "lm_eval": _lm_eval,
}


def iter_samples(path: Path, spec: ArtifactSpec | None = None) -> Iterator[Sample]:
    """Stream the samples of a text artifact (a JSONL file, or a folder of them), one line at a time."""
    fmt = spec.format if spec is not None else None
    adapter = ADAPTERS.get("samples" if fmt in NATIVE_FORMATS else str(fmt))
    if adapter is None:
        raise ArtifactError(path, f"unknown text format {fmt!r}", hint=f"text artifacts take format: {', '.join(FORMATS)}")
    fields = _Fields(spec.columns if spec is not None else {})
    where = list(spec.where.items()) if spec is not None else []
    root = path if path.is_dir() else path.parent
    for file in _files(path):
        path_step = _step_from_path(file, root) if path.is_dir() else None
        if adapter is _native and fields.default:
            yield from _native_stream(file, fields, where, path_step)
            continue
        for lineno, line in _lines(file):
            obj = _parse(line, file, lineno)
            if type(obj) is not dict:
                raise ArtifactError(file, "each line must be a JSON object", line=lineno)
            if where and any(obj.get(k) != v for k, v in where):
                continue
            for sample in adapter(obj, fields, file, lineno):
                if sample.step is None and path_step is not None:
                    sample.step = path_step
                yield sample


def read_samples(path: Path, spec: ArtifactSpec | None = None) -> list[Sample]:
    """Every sample of a (small) text artifact, in order."""
    return list(iter_samples(path, spec))
