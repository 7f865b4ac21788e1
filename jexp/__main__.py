import sys

from jexp.cli.commands import main

sys.exit(main())
