"""The similar-documents question set's corpus: installed packages' METADATA files (see `build_corpus`)."""
