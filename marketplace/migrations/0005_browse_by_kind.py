from importlib import import_module

from django.conf import settings
from django.db import migrations

# Browse and search by asset kind (stories, chapter sets, characters): the browse functions of
# 0002 with a kind parameter. They belong to the bypass role, which alone may drop them.
OLD_PAGE = "marketplace_browse_page(text, varchar[], boolean, text, text, text, boolean, text, integer, integer)"
OLD_BROWSE = "marketplace_browse(text, varchar[], boolean, text, text, text, text, integer, integer)"
PAGE = "marketplace_browse_page(text, text, varchar[], boolean, text, text, text, boolean, text, integer, integer)"
BROWSE = "marketplace_browse(text, text, varchar[], boolean, text, text, text, text, integer, integer)"
BROWSE_SQL = """
CREATE OR REPLACE FUNCTION marketplace_browse_page(
    want_kind text, q text, filter_tags varchar[], all_tags boolean, want_genre text, want_licence text,
    want_rating text, fuzzy boolean, sort text, page_limit integer, page_offset integer)
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
    WHERE s.is_public AND NOT s.is_hidden AND c.kind = want_kind
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
REVOKE ALL ON FUNCTION marketplace_browse_page(text, text, varchar[], boolean, text, text, text, boolean, text,
    integer, integer) FROM PUBLIC;

-- Full-text first; only when the words match nothing, the typo-tolerant (and costlier) trigram search.
CREATE OR REPLACE FUNCTION marketplace_browse(
    want_kind text, q text, filter_tags varchar[], all_tags boolean, want_genre text, want_licence text,
    want_rating text, sort text, page_limit integer, page_offset integer)
RETURNS TABLE (listing_id uuid, total bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public
-- Planned for each call's own values: a generic plan cannot drop the filters left empty.
SET plan_cache_mode = force_custom_plan AS $$
BEGIN
  RETURN QUERY SELECT * FROM marketplace_browse_page(want_kind, q, filter_tags, all_tags, want_genre, want_licence, want_rating,
                                                     false, sort, page_limit, page_offset);
  IF NOT FOUND AND q <> '' AND NOT EXISTS (
      SELECT 1 FROM marketplace_browse_page(want_kind, q, filter_tags, all_tags, want_genre, want_licence, want_rating,
                                            false, sort, 1, 0)) THEN
    RETURN QUERY SELECT * FROM marketplace_browse_page(want_kind, q, filter_tags, all_tags, want_genre, want_licence,
                                                       want_rating, true, sort, page_limit, page_offset);
  END IF;
END $$;
REVOKE ALL ON FUNCTION marketplace_browse(text, text, varchar[], boolean, text, text, text, text, integer,
    integer) FROM PUBLIC;
"""


def replace_functions(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{settings.RLS_ADMIN_ROLE}"')
        cursor.execute(f"DROP FUNCTION IF EXISTS {OLD_BROWSE}; DROP FUNCTION IF EXISTS {OLD_PAGE}")
        cursor.execute("RESET ROLE")
        cursor.execute(BROWSE_SQL)
        cursor.execute(f'GRANT EXECUTE ON FUNCTION {PAGE} TO "{settings.RLS_ADMIN_ROLE}"')
        cursor.execute(f'GRANT EXECUTE ON FUNCTION {BROWSE} TO "{settings.RLS_APP_ROLE}", "{settings.RLS_ADMIN_ROLE}"')
        for function in (PAGE, BROWSE):
            cursor.execute(f'ALTER FUNCTION {function} OWNER TO "{settings.RLS_ADMIN_ROLE}"')


def restore_functions(apps, schema_editor):
    """Back to 0004: 0002's functions, without the kind."""
    public_browse = import_module("marketplace.migrations.0002_public_browse")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{settings.RLS_ADMIN_ROLE}"')
        cursor.execute(f"DROP FUNCTION {BROWSE}; DROP FUNCTION {PAGE}")
        cursor.execute("RESET ROLE")
        cursor.execute(public_browse.BROWSE_SQL)
    public_browse.owner_and_grants(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0004_assets_and_world_sync")]

    operations = [migrations.RunPython(replace_functions, restore_functions)]
