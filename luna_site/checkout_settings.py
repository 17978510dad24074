"""Settings for a developer's checkout (`make run`, `make test`, `make bench`, the test suite): the app's
own settings, with any key the environment does not give taken from the checkout's data folder, where it
is generated once (luna_site/keys.py).

settings.py alone generates keys only with DEBUG on; the suite (pytest-django turns DEBUG off in every
test) and the benchmarks (DEBUG would record every query) run with DEBUG as the environment says.
"""

import os

from luna_site import keys
from luna_site.embedded import data_dir

# A checkout names static files as they are in the source, so nothing needs `collectstatic` first;
# bin/serve collects them and turns the hashed names on (STATIC_MANIFEST=1).
os.environ.setdefault("STATIC_MANIFEST", "0")

for _name in ("SECRET_KEY", "JWT_SIGNING_KEY"):
    if not os.environ.get(_name):
        os.environ[_name] = keys.local_key(_name, data_dir=data_dir())

from luna_site.settings import *  # noqa: E402,F403
