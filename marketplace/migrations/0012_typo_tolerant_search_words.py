from importlib import import_module

from django.conf import settings
from django.db import migrations

# Typo tolerance on words ("lighthuose" finds "The Lighthouse", "strangr" the tag "stranger"). The search's
# fallback compared the whole query with the whole title (q <% title, threshold 0.6), which a one-letter slip in a
# ten-letter word already misses. Now: a lexicon of the words of every listing's title and tags, with a trigram
# index; each query word of four letters or more is widened to the lexicon words within one edit (two from five
# letters; a swap of two letters is one), and the widened words run through the full-text index as before.
#
# The lexicon is written by a trigger (as the table owner) and read only inside the browse functions (owned by
# the bypass role, SECURITY DEFINER): the request roles cannot read it, so the words of a private or hidden
# listing never reach anyone; the browse still returns only public, visible listings.
ADMIN_SQL = """
CREATE OR REPLACE FUNCTION marketplace_typo_distance(a text, b text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = public AS $$
-- The optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours, 1 each.
DECLARE
  previous integer[]; current integer[]; before integer[];
  i integer; j integer; cost integer;
BEGIN
  IF a = b THEN RETURN 0; END IF;
  previous := array(SELECT generate_series(0, length(b)));
  before := previous;
  FOR i IN 1..length(a) LOOP
    current := array[i] || array_fill(0, array[length(b)]);
    FOR j IN 1..length(b) LOOP
      cost := CASE WHEN substr(a, i, 1) = substr(b, j, 1) THEN 0 ELSE 1 END;
      current[j + 1] := least(previous[j + 1] + 1, current[j] + 1, previous[j] + cost);
      IF i > 1 AND j > 1 AND substr(a, i, 1) = substr(b, j - 1, 1) AND substr(a, i - 1, 1) = substr(b, j, 1) THEN
        current[j + 1] := least(current[j + 1], before[j - 1] + 1);
      END IF;
    END LOOP;
    before := previous;
    previous := current;
  END LOOP;
  RETURN previous[length(b) + 1];
END $$;
REVOKE ALL ON FUNCTION marketplace_typo_distance(text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION marketplace_typo_tsquery(q text) RETURNS tsquery
LANGUAGE sql STABLE SET search_path = public SET pg_trgm.similarity_threshold = 0.3 AS $$
  -- Each word of the query, or any lexicon word close to it (all the words must match, as in full text).
  WITH words AS (
    SELECT DISTINCT word FROM regexp_split_to_table(lower(q), '[^[:alpha:]]+') AS word WHERE length(word) >= 2),
  widened AS (
    SELECT words.word, '(' || string_agg(DISTINCT near.word, ' | ') || ')' AS alternatives
    FROM words CROSS JOIN LATERAL (
      SELECT words.word
      UNION
      SELECT lexicon.word FROM marketplace_searchword lexicon
      WHERE length(words.word) >= 4 AND lexicon.word % words.word
        AND abs(length(lexicon.word) - length(words.word)) <= 2
        AND marketplace_typo_distance(lexicon.word, words.word) <= CASE WHEN length(words.word) >= 5 THEN 2 ELSE 1 END
    ) AS near
    GROUP BY words.word)
  SELECT to_tsquery('english', coalesce(string_agg(alternatives, ' & '), '')) FROM widened
$$;
REVOKE ALL ON FUNCTION marketplace_typo_tsquery(text) FROM PUBLIC;
"""
PAGE = "marketplace_browse_page(text, text, varchar[], boolean, text, text, text, boolean, text, integer, integer)"
OWNER_SQL = """
CREATE TABLE marketplace_searchword (word varchar(40) PRIMARY KEY);
CREATE INDEX marketplace_searchword_trigram ON marketplace_searchword USING gin (word gin_trgm_ops);

CREATE FUNCTION marketplace_searchword_add() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  INSERT INTO marketplace_searchword (word)
  SELECT DISTINCT word FROM regexp_split_to_table(lower(NEW.title || ' ' || array_to_string(NEW.tags, ' ')),
                                                  '[^[:alpha:]]+') AS word
  WHERE length(word) BETWEEN 4 AND 40
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION marketplace_searchword_add() FROM PUBLIC;
CREATE TRIGGER searchword_add AFTER INSERT OR UPDATE OF title, tags ON marketplace_communitystory
    FOR EACH ROW EXECUTE FUNCTION marketplace_searchword_add();
"""
# The words of the listings published before this migration (read as the bypass role, which sees them all).
BACKFILL_SQL = """
INSERT INTO marketplace_searchword (word)
SELECT DISTINCT word FROM marketplace_communitystory c,
    regexp_split_to_table(lower(c.title || ' ' || array_to_string(c.tags, ' ')), '[^[:alpha:]]+') AS word
WHERE length(word) BETWEEN 4 AND 40
ON CONFLICT DO NOTHING
"""


def page_sql(fuzzy_match: str) -> str:
    """0005's browse page with the fuzzy pass's condition replaced."""
    sql = import_module("marketplace.migrations.0005_browse_by_kind").BROWSE_SQL
    page = sql[:sql.index("-- Full-text first")]
    old = "(fuzzy AND q <% c.title)"
    assert old in page
    return page.replace(old, fuzzy_match)


# The whole query close to words of the title (0005's fallback, for short words), or its words widened.
TYPO_PAGE_SQL = page_sql("(fuzzy AND (q <% c.title OR c.search @@ marketplace_typo_tsquery(q)))")


def add_search_words(apps, schema_editor):
    admin, app = settings.RLS_ADMIN_ROLE, settings.RLS_APP_ROLE
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(OWNER_SQL)
        cursor.execute(f'REVOKE ALL ON marketplace_searchword FROM "{app}", "{settings.RLS_MODERATOR_ROLE}"')
        cursor.execute(f'GRANT SELECT, INSERT ON marketplace_searchword TO "{admin}"')
        cursor.execute(f'SET ROLE "{admin}"')
        cursor.execute(BACKFILL_SQL)
        cursor.execute(ADMIN_SQL)
        cursor.execute(TYPO_PAGE_SQL)
        cursor.execute("RESET ROLE")


def remove_search_words(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{settings.RLS_ADMIN_ROLE}"')
        cursor.execute(page_sql("(fuzzy AND q <% c.title)"))
        cursor.execute("DROP FUNCTION marketplace_typo_tsquery(text); DROP FUNCTION marketplace_typo_distance(text, text)")
        cursor.execute("RESET ROLE")
        cursor.execute("DROP TRIGGER searchword_add ON marketplace_communitystory; "
                       "DROP FUNCTION marketplace_searchword_add(); DROP TABLE marketplace_searchword")


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0011_licence_names_as_creative_commons_writes_them")]

    operations = [migrations.RunPython(add_search_words, remove_search_words)]
