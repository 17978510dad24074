import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "luna_site.settings")
application = get_asgi_application()

from core import embeddings  # noqa: E402 (the apps are loaded now)

embeddings.preload()  # here, not on the first turn
