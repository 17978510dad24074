import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "luna_site.settings")
application = get_wsgi_application()

from core import embeddings  # noqa: E402 (the apps are loaded now)

embeddings.preload()  # here, not on the first turn
