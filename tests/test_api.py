"""The OpenAI-compatible API of the real server (`python -m qa serve` on a free loopback port, over
a copy of the small real knowledge base), driven by the real `openai` package and by plain HTTP."""
import json
import shutil
import subprocess
import sys

import httpx
import pytest

from qa.answer import ask
from qa.serialize import answer_with_sources
from qa.web.process import ROOT, free_port, running_server

pytestmark = pytest.mark.slow

DEV = [json.loads(line) for line in (ROOT / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
# every dev question about the small knowledge base's three cities, and a few about others (refused there)
SAMPLE = [it for it in DEV if it["city"] in ("彬州市", "咸阳市", "宁波市")] + DEV[:120:40]


@pytest.fixture(scope="module")
def kb(small_kb_dir, tmp_path_factory):
    dest = tmp_path_factory.mktemp("api") / "kb"
    shutil.copytree(small_kb_dir, dest, symlinks=True)
    return dest


@pytest.fixture(scope="module")
def server(kb, tmp_path_factory):
    with running_server(kb, tmp_path_factory.mktemp("log") / "serve.log") as s:
        yield s


@pytest.fixture(scope="module")
def client(server):
    from openai import OpenAI

    return OpenAI(base_url=server["url"] + "v1", api_key="unused-on-loopback", max_retries=0)


def _question(q: str) -> list[dict]:
    return [{"role": "user", "content": q}]


def test_openai_client_gets_the_in_process_answer(client, kb):
    assert [m.id for m in client.models.list().data] == ["extractive"]
    for item in SAMPLE:
        expected = ask(item["question"], kb_dir=kb, mode="extractive")
        done = client.chat.completions.create(model="extractive", messages=_question(item["question"]))
        record = done.model_extra["report_qa"]
        assert record == json.loads(json.dumps(expected.to_dict(), ensure_ascii=False)), item["question"]
        assert done.choices[0].message.content == answer_with_sources(expected)
        assert done.choices[0].finish_reason == "stop" and done.object == "chat.completion"
        if not expected.refused:
            assert "来源：\n[1] 《" in done.choices[0].message.content and record["citations"][0]["spans"]


def test_openai_streaming_matches_the_completion(client):
    question = "宁波去年的社会消费品零售总额有多少？"
    whole = client.chat.completions.create(model="extractive", messages=_question(question))
    chunks = list(client.chat.completions.create(model="extractive", messages=_question(question), stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == whole.choices[0].message.content and "4870亿元" in text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["report_qa"] == whole.model_extra["report_qa"]


def test_earlier_turns_are_the_history(client, kb):
    first = client.chat.completions.create(model="extractive", messages=_question("彬州去年GDP总量有多大？"))
    messages = _question("彬州去年GDP总量有多大？") + [
        {"role": "assistant", "content": first.choices[0].message.content}, {"role": "user", "content": "那财政收入呢？"}]
    follow = client.chat.completions.create(model="extractive", messages=messages)
    record = follow.model_extra["report_qa"]
    expected = ask("那财政收入呢？", history=[("彬州去年GDP总量有多大？", first.model_extra["report_qa"]["text"])],
                   kb_dir=kb, mode="extractive")
    assert record["text"] == expected.text and "彬州" in record["question"] and not record["refused"]
    assert all(c["city"] == "彬州市" for c in record["citations"])


def test_refusal_flag_and_city_filter(client):
    done = client.chat.completions.create(model="extractive", messages=_question("宁波栎社机场2022年旅客吞吐量有多少？"))
    record = done.model_extra["report_qa"]
    assert record["refused"] is True and record["citations"] == [] and record["related"]
    scoped = client.chat.completions.create(model="extractive", messages=_question("去年生产总值是多少？"),
                                            extra_body={"city": "咸阳市"})
    assert {c["city"] for c in scoped.model_extra["report_qa"]["citations"]} == {"咸阳市"}


def test_retrieve_returns_ranked_passages_with_offsets(server, kb):
    from qa.index import load

    documents = load(kb).documents
    reply = httpx.post(server["url"] + "v1/retrieve", json={"question": "去年生产总值是多少？", "k": 4, "city": "宁波市"})
    assert reply.status_code == 200
    data = reply.json()["data"]
    assert [p["rank"] for p in data] == [1, 2, 3, 4] and {p["city"] for p in data} == {"宁波市"}
    assert [p["score"] for p in data] == sorted((p["score"] for p in data), reverse=True)
    for p in data:
        assert documents[p["doc_id"]].text[p["start"] : p["end"]] == p["text"]


@pytest.mark.parametrize("body, status, code", [
    (b"{not json", 400, "invalid_json"),
    (json.dumps({"model": "extractive", "messages": [{"role": "system", "content": "hi"}]}), 400, "no_user_message"),
    (json.dumps({"messages": _question("   ")}), 400, "empty_question"),
    (json.dumps({"messages": _question("问" * 2001)}), 400, "question_too_long"),
    (json.dumps({"model": "gpt-4o", "messages": _question("x")}), 404, "model_not_found"),
    (json.dumps({"messages": _question("x" * 300_000)}), 413, "request_too_large"),
])
def test_errors_in_openai_shape(server, body, status, code):
    reply = httpx.post(server["url"] + "v1/chat/completions", content=body, headers={"Content-Type": "application/json"})
    error = reply.json()["error"]
    assert (reply.status_code, error["code"]) == (status, code)
    assert set(error) == {"message", "type", "param", "code"} and error["message"]


def test_openai_client_raises_on_errors(client):
    import openai

    with pytest.raises(openai.NotFoundError, match="model_not_found|没有这个模型"):
        client.chat.completions.create(model="gpt-4o", messages=_question("彬州去年GDP总量有多大？"))
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="extractive", messages=_question(""), stream=True)


def test_cli_ask_json_prints_the_api_record(client, kb):
    question = "咸阳去年粮食总产量是多少？"
    out = subprocess.run([sys.executable, "-m", "qa", "--kb", str(kb), "ask", question, "--json", "--mode", "extractive",
                          "-k", "6"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    done = client.chat.completions.create(model="extractive", messages=_question(question))
    assert json.loads(out) == done.model_extra["report_qa"]


def test_key_and_login(kb, tmp_path):
    """With QA_API_KEY every API route needs the key; the page keeps its own QA_AUTH login."""
    with running_server(kb, tmp_path / "serve.log", env={"QA_API_KEY": "s3cret-key", "QA_AUTH": "alice:pw"}) as s:
        api = s["url"] + "v1/"
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-key"}):
            reply = httpx.get(api + "models", headers=headers)
            assert reply.status_code == 401 and reply.json()["error"]["code"] == "invalid_api_key"
        reply = httpx.post(api + "retrieve", json={"question": "宁波GDP"})
        assert reply.status_code == 401
        good = {"Authorization": "Bearer s3cret-key"}
        assert httpx.get(api + "models", headers=good).status_code == 200
        assert httpx.post(api + "retrieve", json={"question": "宁波GDP"}, headers=good).status_code == 200
        # the page: its config is refused without a login, given after one; the API key does not open it
        assert httpx.get(s["url"] + "config", headers=good).status_code == 401
        with httpx.Client(base_url=s["url"]) as browser:
            assert browser.post("login", data={"username": "alice", "password": "wrong"}).status_code == 400
            assert browser.post("login", data={"username": "alice", "password": "pw"}).status_code == 200
            assert browser.get("config").status_code == 200


def test_public_address_without_login_or_key_is_refused(kb):
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("QA_AUTH", "QA_AUTH_FILE", "QA_API_KEY")}
    done = subprocess.run([sys.executable, "-m", "qa", "--kb", str(kb), "serve", "--host", "0.0.0.0", "--port",
                           str(free_port())], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "QA_AUTH" in done.stderr and "QA_API_KEY" in done.stderr


def test_a_forged_host_is_refused_and_logins_are_rate_limited(kb, tmp_path):
    """DNS rebinding: a request naming another host reaches nothing on a loopback server. Guessing
    passwords: after the allowed tries, the login answers 429 even to the right password."""
    from qa.web.server import LOGIN_ATTEMPTS

    with running_server(kb, tmp_path / "serve.log", env={"QA_AUTH": "alice:pw"}) as s:
        for host in ("evil.example", "attacker.test:80"):
            assert httpx.get(s["url"] + "config", headers={"Host": host}).status_code == 400
            assert httpx.post(s["url"] + "v1/retrieve", json={"question": "宁波GDP"}, headers={"Host": host}).status_code == 400
        assert httpx.get(s["url"] + "v1/models").status_code == 200  # 127.0.0.1 itself is served
        with httpx.Client(base_url=s["url"]) as browser:
            codes = [browser.post("login", data={"username": "alice", "password": f"guess{i}"}).status_code
                     for i in range(LOGIN_ATTEMPTS)]
            assert set(codes) == {400}
            assert browser.post("login", data={"username": "alice", "password": "pw"}).status_code == 429


def test_twenty_simultaneous_chats_get_answers_without_errors(server, kb):
    """20 clients at once (bounded: 2 questions each, 60 s at most), each answered as in process."""
    from concurrent.futures import ThreadPoolExecutor

    import qa

    questions = ["彬州去年GDP总量有多大？", "宁波2023年要新增多少就业？"]
    expected = {q: qa.ask(q, kb_dir=kb, mode="extractive").text for q in questions}

    def chat(i: int) -> list[str]:
        with httpx.Client(base_url=server["url"] + "v1/", timeout=60) as http:
            replies = [http.post("chat/completions", json={"messages": _question(q)}) for q in questions]
        return [r.json()["report_qa"]["text"] if r.status_code == 200 else f"HTTP {r.status_code}" for r in replies]

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(chat, range(20), timeout=120))
    assert all(texts == [expected[q] for q in questions] for texts in results)


def test_file_routes_serve_nothing_outside_what_the_page_means_to(server, kb):
    """Gradio's file routes, probed with absolute paths and traversal forms, never return the
    knowledge base's files, the uploads or system files."""
    targets = ["/etc/passwd", str((kb / "current").resolve() / "store.sqlite"), str((kb / "current").resolve() / "manifest.json"),
               str(kb / "config.json"), "../../../../etc/passwd", "..%2F..%2F..%2F..%2Fetc%2Fpasswd"]
    forms = ["file={}", "gradio_api/file={}", "gradio_api/file/{}", "static/{}", "assets/{}", "gradio_api/upload/{}"]
    for form in forms:
        for target in targets:
            reply = httpx.get(server["url"] + form.format(target), follow_redirects=False)
            assert reply.status_code in (400, 403, 404, 405), (form, target, reply.status_code)
            assert b"root:" not in reply.content and b"SQLite format" not in reply.content
