"""The web app: the chat page (Gradio) and the OpenAI-compatible API, served by one process.

    layout    the page's components and events      handlers  what the events do (plain functions)
    render    answers as HTML                        export    a conversation as Markdown
    protocol  the OpenAI wire format (no HTTP)       api       the /v1 routes, access, limits
    server    page + API in one FastAPI app; `serve` (python -m qa serve, python app.py)
"""
