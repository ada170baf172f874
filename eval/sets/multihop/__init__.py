"""The multi-hop question set's corpus: SQuAD 2.0 articles, one text file each (see `build_corpus`)."""
