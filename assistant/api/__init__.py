"""The programmatic doors to the assistant, all over the one ``Assistant`` service:

    operations.py     what every door can do (ask, search, a passage, reports, catalogue, feedback),
                      with the filters checked loudly (an unknown report or level names the valid ones)
    schemas.py        the request and response types of the doors; the answer types themselves are
                      those of ``assistant.models`` (the same classes as ``ask --json``)
    openai_routes.py  OpenAI-compatible chat completions: POST /v1/chat/completions, GET /v1/models
    rest.py           the REST API under /api/v1/ (OpenAPI at /openapi.json, docs at /docs)
    mcp_server.py     the MCP server (official ``mcp`` SDK): stdio (``policy-assistant mcp``) and
                      streamable HTTP at /mcp on ``serve``
    access.py         auth and limits for every door, in one place (the passcode, the answer slots,
                      request sizes, CORS)

``ui/server.py`` puts them and the Gradio web chat into one ASGI application.
"""
