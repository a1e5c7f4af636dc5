"""The semantic stage: the numpy MiniLM encoder and its shipped weights (encoder, model/), what is
embedded and how it is fused (stage), the papers' vectors on disk (vectors) and their upkeep (meaning)."""
