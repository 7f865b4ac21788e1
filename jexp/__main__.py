import sys

from jexp.cli import main

sys.exit(main())
