"""What the gateway remembers between requests (used codes, revocations, counters): one interface, two backends."""
