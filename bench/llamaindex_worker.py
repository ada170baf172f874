"""Runs inside the LlamaIndex benchmark venv (never imported by the project): index SciFact with
LlamaIndex, answer the train queries, and write timings and document rankings as JSON.

usage: python llamaindex_worker.py CORPUS QUERIES MODEL_DIR OUT.json
"""

from __future__ import annotations

import json
import sys
import time
from importlib import metadata

HITS = 50  # chunks per query; collapsed to a document ranking (a document ranks at its best chunk)


def main(corpus: str, queries_path: str, model_dir: str, out: str) -> None:
    import faiss
    import torch
    from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.faiss import FaissVectorStore

    t0 = time.perf_counter()
    embed = HuggingFaceEmbedding(model_name=model_dir, device="cpu", embed_batch_size=64, normalize=True)
    Settings.embed_model = embed
    model_s = time.perf_counter() - t0

    started = time.perf_counter()
    docs = []
    with open(corpus, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rec = json.loads(line)
                docs.append(Document(text=rec["text"], metadata={"title": rec["title"]}, id_=rec["_id"]))
    load_s = time.perf_counter() - started
    splitter = SentenceSplitter(chunk_size=200, chunk_overlap=40)  # tiktoken tokens, as our chunker
    store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(384))
    index = VectorStoreIndex.from_documents(
        docs, storage_context=StorageContext.from_defaults(vector_store=store), transformations=[splitter]
    )
    index_s = time.perf_counter() - started
    chunks = store._faiss_index.ntotal

    torch.set_num_threads(1)  # one thread per query, as our serving path does
    faiss.omp_set_num_threads(1)
    retriever = index.as_retriever(similarity_top_k=HITS)
    with open(queries_path, encoding="utf-8") as fh:
        queries = [json.loads(line) for line in fh if line.strip()]
    for q in queries[:3]:
        retriever.retrieve(q["text"])
    rankings, latencies = {}, []
    for q in queries:
        t0 = time.perf_counter()
        found = retriever.retrieve(q["text"])
        latencies.append((time.perf_counter() - t0) * 1000)
        rankings[q["_id"]] = list(dict.fromkeys(n.node.ref_doc_id for n in found))
    versions = {
        d: metadata.version(d)
        for d in ("llama-index-core", "llama-index-embeddings-huggingface", "llama-index-vector-stores-faiss", "torch")
    }
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "versions": versions,
        "documents": len(docs),
        "chunks": chunks,
        "model_seconds": model_s,
        "load_seconds": load_s,
        "index_seconds": index_s,
        "hits": HITS,
        "latencies_ms": latencies,
        "rankings": rankings,
    }
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main(*sys.argv[1:5])
