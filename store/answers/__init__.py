"""The answers: ask, topic, repo and similar (engine) over the search and the semantic stage, with a
question's terms (lexical, spelling, names), the quoted sentences (snippets) and the result types."""
