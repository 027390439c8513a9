import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpnav.settings")
application = get_wsgi_application()

# A WSGI server started directly runs no system checks: refuse to serve data that
# the configured field keys cannot read (a missing or wrong CPNAV_FIELD_KEYS).
from cpnav.core.keys import require_readable_data  # noqa: E402

require_readable_data()
