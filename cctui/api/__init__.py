"""The cc command interface: an asyncio core and a blocking facade over it."""
