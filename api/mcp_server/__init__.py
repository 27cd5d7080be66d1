"""``spendsentry mcp``: a Model Context Protocol server (stdio) for AI assistants.

Named ``mcp_server``, not ``mcp``, so that ``import mcp`` always means the SDK. The tools call the same
domain functions as the HTTP API (``alerts``, ``detector``, ``ingestion``), never HTTP, and nothing here
imports FastAPI: an assistant's server process starts in about a second.
"""
