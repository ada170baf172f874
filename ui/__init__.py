"""The Gradio chat: `rag chat`, `python -m ui`, `make chat`. Importing it loads neither gradio nor a model."""
