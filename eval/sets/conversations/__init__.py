"""The conversation set's corpus: the reference news articles beside the SQuAD 2.0 articles (see `build_corpus`)."""
