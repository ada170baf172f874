"""Retrieval, prompting, LLM backends, citations and `ask()`; builds on `index`."""
