"""Everything below Telegram: papers in SQLite, the BM25 index, and the answers over them.

What lives here: importers (parse feeds and files; fetch over HTTP), clean and text (pure text
handling), db (every SQL statement for papers, subscriptions and the ledger), chats (subscriptions
and the ledger as short locked calls; the bot's inbox table), index and kernels (exact BM25Okapi),
expansion and semantic (query stages), answers (ask, topic, repo, similar -> Answer/Hit).

The flow is importers -> db -> index -> answers. Nothing in store/ imports telegram or bot/.
"""
