"""A local, in-memory, PixCrawler-compatible API target with fault knobs, for rehearsals."""
