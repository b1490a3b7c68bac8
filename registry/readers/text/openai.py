"""OpenAI shapes: chat completions (`openai_chat`, also the Batch API's output lines) and legacy
completions (`openai_completions`, also vLLM's OpenAI-compatible server); every choice is one sample."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import ArtifactError
from registry.readers.text.lines import Fields, check_lengths
from registry.readers.text.sample import Sample

if TYPE_CHECKING:
    pass


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


def read_openai_chat(obj: dict[str, Any], f: Fields, file: Path, lineno: int) -> Iterator[Sample]:
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


def read_openai_completions(obj: dict[str, Any], f: Fields, file: Path, lineno: int) -> Iterator[Sample]:
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
            check_lengths(
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
