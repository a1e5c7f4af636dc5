"""Answers and papers as Telegram HTML: escaped, chunked to the message limit, with keyboards.

Pure functions only (no network, no Application), so every reply can be checked in a plain test.
Everything that comes from a paper or a user goes through `esc`; the only tags are ours.

One module a kind of reply: markup (escaping, links), chunks (the message limit), buttons
(callback data, keyboards), results (answers, /topic, refusals, digests), papers (one paper,
/add, /remove, /stats) and help. Callers use `from bot import formatting as fmt`.
"""

from bot.formatting.buttons import (  # noqa: F401 (the module's names, for fmt.X)
    HASH_PREFIX,
    ID_ACTIONS,
    MAX_DATA,
    MAX_LITERAL,
    MAX_OFFSET,
    Callback,
    _id_data,
    add_data,
    hit_rows,
    is_hashed,
    keyboard,
    more_data,
    parse_callback,
    query_key,
    remove_data,
    similar_data,
)
from bot.formatting.chunks import (  # noqa: F401 (the module's names, for fmt.X)
    Reply,
    chunk,
    fit_block,
    pack,
    replies,
    split_plain,
)
from bot.formatting.help import (  # noqa: F401 (the module's names, for fmt.X)
    command_line,
    help_replies,
    text_reply,
    unknown_command_replies,
    usage_replies,
)
from bot.formatting.markup import (  # noqa: F401 (the module's names, for fmt.X)
    _TAG_RE,
    _URL_RE,
    ECHO_CHARS,
    LINK_KINDS,
    MAX_TEXT,
    SNIPPET_CHARS,
    TITLE_CHARS,
    display_url,
    echo,
    esc,
    highlight,
    is_safe_url,
    link,
    utf16_len,
)
from bot.formatting.papers import (  # noqa: F401 (the module's names, for fmt.X)
    add_offer,
    add_outcome_line,
    added_replies,
    paper_not_found,
    paper_replies,
    provenance_line,
    remove_question,
    stats_replies,
)
from bot.formatting.results import (  # noqa: F401 (the module's names, for fmt.X)
    PAGE_SIZE,
    answer_replies,
    digest_block,
    hit_block,
    latest_replies,
    links_lines,
    nothing_found,
    partial_note,
    repo_replies,
    similar_replies,
    team_counts,
    topic_page,
    way_forward,
)
