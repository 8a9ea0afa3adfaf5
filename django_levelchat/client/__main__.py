import sys

from django_levelchat.client.cli import main

sys.exit(main())
