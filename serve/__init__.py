"""Serving the index to other programs: an OpenAI-compatible HTTP API and an MCP server."""
