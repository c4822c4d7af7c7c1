"""Nothing public without a person's yes: which tools are confirmed, through which channel, and the sealed,
single-use drafts that carry exactly what the person approved."""
