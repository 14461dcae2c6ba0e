"""PixCrawler backend (sample): a layered FastAPI application."""
