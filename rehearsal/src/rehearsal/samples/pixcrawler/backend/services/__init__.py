"""Business logic; talks to repositories, never to HTTP."""
