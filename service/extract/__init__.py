"""Extraction: a document and its sections in, an `Extraction` out, by one of the engines (`engines.py`):
`rules` (offline, deterministic) or `llm` (a model behind an OpenAI-compatible endpoint, or its recordings)."""
