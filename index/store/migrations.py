"""The numbered migrations of each backend: migration N brings a database to schema N.

SQLite keeps its version in ``PRAGMA user_version`` and PostgreSQL in the table
``citebot_schema``. PostgreSQL support began at SQLite's schema 8, so its first migration
creates that schema whole; later changes get a migration in both lists.
"""

APPLICATION_ID = 0x43697465  # "Cite" in the database header: the file is citebot's

SQLITE_MIGRATIONS: tuple[str, ...] = (
    # 1: the initial schema.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE scopes (
        scope TEXT PRIMARY KEY,
        generation INTEGER NOT NULL DEFAULT 0,
        model TEXT,
        dimension INTEGER,
        last_reindex TEXT
    );
    CREATE TABLE articles (
        pk INTEGER PRIMARY KEY,
        scope TEXT NOT NULL,
        article_id TEXT NOT NULL,
        title TEXT NOT NULL,
        url TEXT,
        author TEXT,
        published TEXT,
        added_by TEXT,
        added_at TEXT NOT NULL,
        text TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        UNIQUE (scope, article_id)
    );
    CREATE INDEX articles_hash ON articles (scope, content_hash);
    CREATE INDEX articles_url ON articles (scope, url);
    CREATE TABLE sentences (
        id INTEGER PRIMARY KEY,
        article_pk INTEGER NOT NULL REFERENCES articles (pk) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        paragraph INTEGER NOT NULL,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        vector BLOB NOT NULL
    );
    CREATE INDEX sentences_article ON sentences (article_pk, position);
    CREATE TABLE chunks (
        id INTEGER PRIMARY KEY,
        article_pk INTEGER NOT NULL REFERENCES articles (pk) ON DELETE CASCADE,
        scope TEXT NOT NULL,
        first_sentence INTEGER NOT NULL,
        last_sentence INTEGER NOT NULL,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        tokens INTEGER NOT NULL,
        vector BLOB NOT NULL
    );
    CREATE INDEX chunks_article ON chunks (article_pk);
    CREATE INDEX chunks_scope ON chunks (scope, id);
    """,
    # 2: the channels where a scope answers mentions (none listed: everywhere).
    """
    CREATE TABLE mention_channels (
        scope TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        PRIMARY KEY (scope, channel_id)
    );
    """,
    # 3: where an article was published, and the URL that identifies it.
    """
    ALTER TABLE articles ADD COLUMN site TEXT;
    ALTER TABLE articles ADD COLUMN canonical_url TEXT;
    """,
    # 4: mark the file as citebot's (the header's application id), so that no other
    # program's database is ever taken for one.
    f"PRAGMA application_id = {APPLICATION_ID};",
    # 5: a mode per channel (off, mention, auto), server settings, the answers the bot gave
    # in a server and the members' votes on them (member ids only).
    """
    ALTER TABLE mention_channels RENAME TO channel_modes;
    ALTER TABLE channel_modes ADD COLUMN mode TEXT NOT NULL DEFAULT 'mention'
        CHECK (mode IN ('off', 'mention', 'auto'));
    CREATE TABLE scope_settings (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (scope, key)
    );
    CREATE TABLE answers (
        id INTEGER PRIMARY KEY,
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        question TEXT NOT NULL,
        answered INTEGER NOT NULL,
        confidence REAL NOT NULL,
        citations TEXT NOT NULL,
        at TEXT NOT NULL,
        UNIQUE (scope, key)
    );
    CREATE INDEX answers_at ON answers (scope, at);
    CREATE TABLE votes (
        answer_id INTEGER NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        vote TEXT NOT NULL CHECK (vote IN ('up', 'down', 'wrong_quote')),
        at TEXT NOT NULL,
        PRIMARY KEY (answer_id, user_id)
    );
    """,
    # 6: the publication time normalized to UTC (ISO 8601; '' when unreadable), so that
    # questions can be limited to a time window. Filled in from `published` at open.
    """
    ALTER TABLE articles ADD COLUMN published_at TEXT;
    CREATE INDEX articles_published_at ON articles (scope, published_at);
    """,
    # 7: the feeds a scope follows, their polling state, and the entries each has seen
    # (which article an entry became, so that a re-sent entry is not fetched again).
    """
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY,
        scope TEXT NOT NULL,
        url TEXT NOT NULL,
        feed_url TEXT NOT NULL,
        kind TEXT NOT NULL,
        title TEXT NOT NULL,
        channel_id TEXT,
        added_by TEXT,
        added_at TEXT NOT NULL,
        etag TEXT,
        last_modified TEXT,
        next_poll_at TEXT NOT NULL,
        last_poll_at TEXT,
        last_ok_at TEXT,
        failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        disabled_at TEXT,
        UNIQUE (scope, feed_url)
    );
    CREATE INDEX feeds_due ON feeds (next_poll_at) WHERE disabled_at IS NULL;
    CREATE TABLE feed_entries (
        feed_id INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        link TEXT,
        article_id TEXT,
        version TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        seen_at TEXT NOT NULL,
        PRIMARY KEY (feed_id, key)
    );
    CREATE INDEX feed_entries_link ON feed_entries (feed_id, link);
    """,
    # 8: the same text is stored once per scope, refused by the database itself. Before it,
    # only a check before inserting refused it, and copies between scopes could repeat a
    # text: the oldest copy stays, and the scopes concerned rebuild their indexes.
    """
    UPDATE scopes SET generation = generation + 1 WHERE scope IN (
        SELECT scope FROM articles GROUP BY scope, content_hash HAVING count(*) > 1);
    DELETE FROM articles WHERE pk NOT IN (
        SELECT min(pk) FROM articles GROUP BY scope, content_hash);
    DROP INDEX articles_hash;
    CREATE UNIQUE INDEX articles_text ON articles (scope, content_hash);
    """,
)


POSTGRES_MIGRATIONS: tuple[str, ...] = (
    # 1: SQLite's schema 8. Ids are identity columns; vectors are float32 bytes (bytea).
    """
    CREATE TABLE scopes (
        scope TEXT PRIMARY KEY,
        generation BIGINT NOT NULL DEFAULT 0,
        model TEXT,
        dimension INTEGER,
        last_reindex TEXT
    );
    CREATE TABLE articles (
        pk BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        scope TEXT NOT NULL,
        article_id TEXT NOT NULL,
        title TEXT NOT NULL,
        url TEXT,
        author TEXT,
        published TEXT,
        added_by TEXT,
        added_at TEXT NOT NULL,
        text TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        site TEXT,
        canonical_url TEXT,
        published_at TEXT,
        UNIQUE (scope, article_id),
        CONSTRAINT articles_text UNIQUE (scope, content_hash)
    );
    CREATE INDEX articles_url ON articles (scope, url);
    CREATE INDEX articles_published_at ON articles (scope, published_at);
    CREATE TABLE sentences (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        article_pk BIGINT NOT NULL REFERENCES articles (pk) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        paragraph INTEGER NOT NULL,
        start INTEGER NOT NULL,
        "end" INTEGER NOT NULL,
        vector BYTEA NOT NULL
    );
    CREATE INDEX sentences_article ON sentences (article_pk, position);
    CREATE TABLE chunks (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        article_pk BIGINT NOT NULL REFERENCES articles (pk) ON DELETE CASCADE,
        scope TEXT NOT NULL,
        first_sentence INTEGER NOT NULL,
        last_sentence INTEGER NOT NULL,
        start INTEGER NOT NULL,
        "end" INTEGER NOT NULL,
        tokens INTEGER NOT NULL,
        vector BYTEA NOT NULL
    );
    CREATE INDEX chunks_article ON chunks (article_pk);
    CREATE INDEX chunks_scope ON chunks (scope, id);
    CREATE TABLE channel_modes (
        scope TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        mode TEXT NOT NULL DEFAULT 'mention' CHECK (mode IN ('off', 'mention', 'auto')),
        PRIMARY KEY (scope, channel_id)
    );
    CREATE TABLE scope_settings (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (scope, key)
    );
    CREATE TABLE answers (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        question TEXT NOT NULL,
        answered INTEGER NOT NULL,
        confidence DOUBLE PRECISION NOT NULL,
        citations TEXT NOT NULL,
        at TEXT NOT NULL,
        UNIQUE (scope, key)
    );
    CREATE INDEX answers_at ON answers (scope, at);
    CREATE TABLE votes (
        answer_id BIGINT NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        vote TEXT NOT NULL CHECK (vote IN ('up', 'down', 'wrong_quote')),
        at TEXT NOT NULL,
        PRIMARY KEY (answer_id, user_id)
    );
    CREATE TABLE feeds (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        scope TEXT NOT NULL,
        url TEXT NOT NULL,
        feed_url TEXT NOT NULL,
        kind TEXT NOT NULL,
        title TEXT NOT NULL,
        channel_id TEXT,
        added_by TEXT,
        added_at TEXT NOT NULL,
        etag TEXT,
        last_modified TEXT,
        next_poll_at TEXT NOT NULL,
        last_poll_at TEXT,
        last_ok_at TEXT,
        failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        disabled_at TEXT,
        UNIQUE (scope, feed_url)
    );
    CREATE INDEX feeds_due ON feeds (next_poll_at) WHERE disabled_at IS NULL;
    CREATE TABLE feed_entries (
        feed_id BIGINT NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        link TEXT,
        article_id TEXT,
        version TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        seen_at TEXT NOT NULL,
        PRIMARY KEY (feed_id, key)
    );
    CREATE INDEX feed_entries_link ON feed_entries (feed_id, link);
    """,
)
