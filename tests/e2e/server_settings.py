"""Settings of the server process the browser tests start: the app's own, with a fast password hasher.

Every browser test signs two people in through the form; with the production
hasher (PBKDF2, a deliberate half second per check on these machines) that
alone was a third of the module's time. Nothing else differs.
"""

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
