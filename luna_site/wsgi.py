import os

from django.core.wsgi import get_wsgi_application

from luna_site import embedded

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "luna_site.settings")
embedded.start_services()  # a web server started without manage.py (gunicorn, uvicorn)
application = get_wsgi_application()

from core import embeddings  # noqa: E402 (the apps are loaded now)

embeddings.preload()  # here, not on the first turn
