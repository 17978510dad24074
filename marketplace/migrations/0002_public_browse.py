from django.conf import settings
from django.db import migrations

# Browse and search of public listings, as one function. Full-text and trigram operators are not
# leakproof, so under RLS PostgreSQL will not use their GIN indexes (DESIGN §6). This function
# reads only rows that are public and not hidden (what every user may read anyway) and runs as
# the bypass role, whose policy is `true`, so the planner is free to use the indexes.
# (A generic plan would keep every "filter or empty" branch and scan: each call is planned anew.)
BROWSE_SQL = """
CREATE OR REPLACE FUNCTION marketplace_browse_page(
    q text, filter_tags varchar[], all_tags boolean, want_genre text, want_licence text, want_rating text,
    fuzzy boolean, sort text, page_limit integer, page_offset integer)
RETURNS TABLE (listing_id uuid, total bigint)
LANGUAGE sql STABLE SET search_path = public AS $$
  WITH query AS (SELECT websearch_to_tsquery('english', q) AS tsq),
  matches AS (
    SELECT c.id, c.updated_at,
           CASE WHEN q = '' THEN 0 ELSE ts_rank(c.search, query.tsq) + word_similarity(q, c.title) END AS rank,
           coalesce(n.likes, 0) + coalesce(n.forks, 0) AS popular, coalesce(n.forks, 0) AS forks,
           coalesce(n.trend_score * exp(-extract(epoch FROM now() - n.trend_at) / 259200.0), 0) AS trend
    FROM marketplace_communitystory c
    JOIN narrative_pipeline_snapshotseries s ON s.id = c.series_id
    LEFT JOIN marketplace_assetcounter n ON n.community_id = c.id
    CROSS JOIN query
    WHERE s.is_public AND NOT s.is_hidden
      -- The words themselves (full text), or for typos the query close to words of the title.
      AND (q = '' OR (NOT fuzzy AND c.search @@ query.tsq) OR (fuzzy AND q <% c.title))
      AND (cardinality(filter_tags) = 0 OR (all_tags AND c.tags @> filter_tags) OR (NOT all_tags AND c.tags && filter_tags))
      AND (want_genre = '' OR lower(c.genre) = lower(want_genre))
      AND (want_licence = '' OR c.licence = want_licence)
      AND (want_rating = '' OR c.rating = want_rating))
  SELECT id, count(*) OVER () FROM matches
  ORDER BY CASE WHEN sort = 'relevance' THEN rank END DESC NULLS LAST,
           CASE WHEN sort = 'popular' THEN popular END DESC NULLS LAST,
           CASE WHEN sort = 'most_forked' THEN forks END DESC NULLS LAST,
           CASE WHEN sort = 'trending' THEN trend END DESC NULLS LAST,
           updated_at DESC, id
  LIMIT page_limit OFFSET page_offset
$$;
REVOKE ALL ON FUNCTION marketplace_browse_page(text, varchar[], boolean, text, text, text, boolean, text, integer,
    integer) FROM PUBLIC;

-- Full-text first; only when the words match nothing, the typo-tolerant (and costlier) trigram search.
CREATE OR REPLACE FUNCTION marketplace_browse(
    q text, filter_tags varchar[], all_tags boolean, want_genre text, want_licence text, want_rating text,
    sort text, page_limit integer, page_offset integer)
RETURNS TABLE (listing_id uuid, total bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public
-- Planned for each call's own values: a generic plan cannot drop the filters left empty.
SET plan_cache_mode = force_custom_plan AS $$
BEGIN
  RETURN QUERY SELECT * FROM marketplace_browse_page(q, filter_tags, all_tags, want_genre, want_licence, want_rating,
                                                     false, sort, page_limit, page_offset);
  IF NOT FOUND AND q <> '' AND NOT EXISTS (
      SELECT 1 FROM marketplace_browse_page(q, filter_tags, all_tags, want_genre, want_licence, want_rating,
                                            false, sort, 1, 0)) THEN
    RETURN QUERY SELECT * FROM marketplace_browse_page(q, filter_tags, all_tags, want_genre, want_licence,
                                                       want_rating, true, sort, page_limit, page_offset);
  END IF;
END $$;
REVOKE ALL ON FUNCTION marketplace_browse(text, varchar[], boolean, text, text, text, text, integer, integer)
    FROM PUBLIC;
"""


BROWSE = "marketplace_browse(text, varchar[], boolean, text, text, text, text, integer, integer)"
PAGE = "marketplace_browse_page(text, varchar[], boolean, text, text, text, boolean, text, integer, integer)"


def owner_and_grants(apps, schema_editor):
    signature, page = BROWSE, PAGE
    with schema_editor.connection.cursor() as cursor:
        # A function's owner needs CREATE on its schema. Only `luna` can become the bypass role.
        cursor.execute(f'GRANT CREATE ON SCHEMA public TO "{settings.RLS_ADMIN_ROLE}"')
        # Grants first: once the bypass role owns a function, `luna` can no longer grant on it.
        cursor.execute(f'GRANT EXECUTE ON FUNCTION {page} TO "{settings.RLS_ADMIN_ROLE}"')
        cursor.execute(f'GRANT EXECUTE ON FUNCTION {signature} TO "{settings.RLS_APP_ROLE}", '
                       f'"{settings.RLS_ADMIN_ROLE}"')
        for function in (page, signature):
            cursor.execute(f'ALTER FUNCTION {function} OWNER TO "{settings.RLS_ADMIN_ROLE}"')


def functions_drop(apps, schema_editor):
    """Back to 0001: the functions go (as the bypass role, which owns them), and with them its right to
    create in the schema."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{settings.RLS_ADMIN_ROLE}"')
        cursor.execute(f"DROP FUNCTION {BROWSE}; DROP FUNCTION {PAGE}")
        cursor.execute("RESET ROLE")
        cursor.execute(f'REVOKE CREATE ON SCHEMA public FROM "{settings.RLS_ADMIN_ROLE}"')


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0001_marketplace")]

    operations = [
        # Going back, functions_drop has dropped them already.
        migrations.RunSQL(BROWSE_SQL, reverse_sql=migrations.RunSQL.noop),
        migrations.RunPython(owner_and_grants, functions_drop),
    ]
