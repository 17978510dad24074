from django.conf import settings
from django.db import migrations

# Browse and search of public listings, as one function. Full-text and trigram operators are not
# leakproof, so under RLS PostgreSQL will not use their GIN indexes (DESIGN §6). This function
# reads only rows that are public and not hidden (what every user may read anyway) and runs as
# the bypass role, whose policy is `true`, so the planner is free to use the indexes.
BROWSE_SQL = """
CREATE OR REPLACE FUNCTION marketplace_browse(
    q text, filter_tags varchar[], all_tags boolean, want_genre text, want_licence text, want_rating text,
    sort text, page_limit integer, page_offset integer)
RETURNS TABLE (listing_id uuid, total bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  WITH query AS (SELECT websearch_to_tsquery('english', q) AS tsq),
  matches AS (
    SELECT c.id, c.updated_at,
           CASE WHEN q = '' THEN 0 ELSE ts_rank(c.search, query.tsq) + similarity(c.title, q) END AS rank,
           coalesce(n.likes, 0) + coalesce(n.forks, 0) AS popular, coalesce(n.forks, 0) AS forks,
           coalesce(n.trend_score * exp(-extract(epoch FROM now() - n.trend_at) / 259200.0), 0) AS trend
    FROM marketplace_communitystory c
    JOIN narrative_pipeline_snapshotseries s ON s.id = c.series_id
    LEFT JOIN marketplace_assetcounter n ON n.community_id = c.id
    CROSS JOIN query
    WHERE s.is_public AND NOT s.is_hidden
      AND (q = '' OR c.search @@ query.tsq OR c.title % q)
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
REVOKE ALL ON FUNCTION marketplace_browse(text, varchar[], boolean, text, text, text, text, integer, integer)
    FROM PUBLIC;
"""


def owner_and_grants(apps, schema_editor):
    signature = "marketplace_browse(text, varchar[], boolean, text, text, text, text, integer, integer)"
    with schema_editor.connection.cursor() as cursor:
        # A function's owner needs CREATE on its schema. Only `luna` can become the bypass role.
        cursor.execute(f'GRANT CREATE ON SCHEMA public TO "{settings.RLS_ADMIN_ROLE}"')
        cursor.execute(f'GRANT EXECUTE ON FUNCTION {signature} TO "{settings.RLS_APP_ROLE}", '
                       f'"{settings.RLS_ADMIN_ROLE}"')
        cursor.execute(f'ALTER FUNCTION {signature} OWNER TO "{settings.RLS_ADMIN_ROLE}"')


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0001_marketplace")]

    operations = [
        migrations.RunSQL(BROWSE_SQL, reverse_sql="DROP FUNCTION IF EXISTS marketplace_browse"),
        migrations.RunPython(owner_and_grants, migrations.RunPython.noop),
    ]
