"""Question sets written for choosing defaults (issue 21), with the builders of the corpora they are asked over.

- `multihop.jsonl`: two-passage questions over SQuAD 2.0 articles; corpus:
  `python -m eval.sets.multihop.build_corpus DIR`
- `similar_docs.jsonl`: questions over near-duplicate package descriptions; corpus:
  `python -m eval.sets.similar_docs.build_corpus DIR`
- `conversations.jsonl`: chat turns, follow-ups and topic switches, over the news and SQuAD 2.0 articles;
  corpus: `python -m eval.sets.conversations.build_corpus DIR`; measured by `python -m eval.rewrite_bench`
- `python -m eval.sets.split SET.jsonl --split tune|report --out FILE`: one half, for `rag eval run`

See `eval/sets/README.md`.
"""

from pathlib import Path

SETS_DIR = Path(__file__).resolve().parent
MULTIHOP = SETS_DIR / "multihop.jsonl"
SIMILAR_DOCS = SETS_DIR / "similar_docs.jsonl"
CONVERSATIONS = SETS_DIR / "conversations.jsonl"
