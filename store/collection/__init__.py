"""The collection: papers in SQLite (db/, the only SQL), the importers that parse feeds and libraries,
the team's additions (adding) and the chats' subscriptions and inbox (chats)."""
