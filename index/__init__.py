"""citebot's retrieval core: cleaning, chunking, embedding, storage, retrieval, answers."""
