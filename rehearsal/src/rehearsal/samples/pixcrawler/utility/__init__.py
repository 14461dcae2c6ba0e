"""PixCrawler utility package (sample): compression settings."""
