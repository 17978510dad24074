"""``CommunityStory`` is ``Listing`` and ``StoryFork`` is ``ForkRecord``. Their tables keep their names (set
as ``db_table`` first), so no row moves; the foreign keys keep their column names (``community_id``). The
renamed models' permissions get the new codenames (``view_listing``), so a moderator keeps what was granted."""

from django.db import migrations

RENAMED = {"communitystory": "listing", "storyfork": "forkrecord"}
ACTIONS = ("add", "change", "delete", "view")


def _rename_permissions(apps, renames: dict[str, str]) -> None:
    Permission = apps.get_model("auth", "Permission")
    for old, new in renames.items():
        for action in ACTIONS:
            Permission.objects.filter(content_type__app_label="marketplace", codename=f"{action}_{old}").update(
                codename=f"{action}_{new}")


def forwards(apps, schema_editor):
    _rename_permissions(apps, RENAMED)


def backwards(apps, schema_editor):
    _rename_permissions(apps, {new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0007_moderator_role"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelTable(name="communitystory", table="marketplace_communitystory"),
        migrations.AlterModelTable(name="storyfork", table="marketplace_storyfork"),
        migrations.AlterModelOptions(name="communitystory", options={}),
        migrations.RenameModel(old_name="CommunityStory", new_name="Listing"),
        migrations.RenameModel(old_name="StoryFork", new_name="ForkRecord"),
        migrations.RunPython(forwards, backwards),
    ]
