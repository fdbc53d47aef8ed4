"""A small client of the server's OpenAI-compatible API that returns qa records, so the same
evaluation runs against a server (`python -m qa eval FILE --via-api URL`) as in process."""
from __future__ import annotations

import httpx

from .config import from_env
from .schema import Answer, History, Passage
from .serialize import answer_from_record, passage_from_record


class ApiError(RuntimeError):
    """The API answered with an error object; the message is the server's."""


class ApiClient:
    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 300.0):
        key = from_env().web.api_key if api_key is None else api_key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(base_url=base_url.rstrip("/") + "/v1", headers=headers, timeout=timeout)

    def _post(self, path: str, body: dict) -> dict:
        response = self.http.post(path, json=body)
        data = response.json()
        if response.status_code != 200:
            raise ApiError(f"{response.status_code}: {data.get('error', {}).get('message', data)}")
        return data

    def ask(self, question: str, history: History | None = None, mode: str = "extractive", k: int | None = None,
            city: str | list[str] | None = None) -> Answer:
        messages = []
        for asked, answered in history or []:
            messages += [{"role": "user", "content": asked}, {"role": "assistant", "content": answered}]
        body = {"model": mode, "messages": messages + [{"role": "user", "content": question}]}
        body.update({name: value for name, value in (("k", k), ("city", city)) if value is not None})
        return answer_from_record(self._post("/chat/completions", body)["report_qa"])

    def retrieve(self, question: str, k: int = 5, city: str | list[str] | None = None) -> list[Passage]:
        body = {"question": question, "k": k, **({"city": city} if city else {})}
        return [passage_from_record(p) for p in self._post("/retrieve", body)["data"]]
