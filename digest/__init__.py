"""Daily and weekly digests: what goes in, how it reads, when it goes out, exactly once."""
